"""Finding an agent for a waiting callee, shared by the carriers: reserve a free agent of the
group, ring it, and on no answer release it and try the next, until one answers or the
callee's waiting time runs out. How an agent is rung is the carrier's (`ring`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from voxcast.ports import (
    AgentAnswered,
    AgentNoAnswer,
    AgentRinging,
    CallEvent,
    Clock,
    ReservedAgent,
    Transfer,
)

#: how often a waiting callee looks for a free agent again
POLL_S = 0.5

#: ring(agent) → True once the agent answered, False when it did not (or refused)
Ring = Callable[[ReservedAgent], Awaitable[bool]]


class Search:
    """One callee's search; `answered` is the agent that took the call, if any."""

    def __init__(self, transfer: Transfer, clock: Clock, ring: Ring, stop: asyncio.Event):
        self.transfer = transfer
        self.clock = clock
        self.ring = ring
        self.stop = stop  # set when the callee hung up (or we did): give up at once
        self.answered: ReservedAgent | None = None
        self.answered_at = clock.now()
        self.tried: list[ReservedAgent] = []

    async def run(self) -> AsyncIterator[CallEvent]:
        deadline = self.clock.now() + timedelta(seconds=self.transfer.wait_s)
        excluded: set[int] = set()
        while not self.stop.is_set() and self.clock.now() < deadline:
            agent = await self.transfer.desk.reserve(self.transfer.group_id, frozenset(excluded))
            if agent is None:
                left = (deadline - self.clock.now()).total_seconds()
                await self._pause(min(POLL_S, max(left, 0.0)))
                continue
            yield AgentRinging(agent, self.clock.now())
            try:
                took = await self.ring(agent)
            except BaseException:
                await self.transfer.desk.release(agent, talked=False)
                raise
            if took and not self.stop.is_set():
                self.answered = agent
                self.answered_at = self.clock.now()
                yield AgentAnswered(agent, self.answered_at)
                return
            await self.transfer.desk.release(agent, talked=False)
            self.tried.append(agent)
            excluded.add(agent.key_id)
            if not self.stop.is_set():
                yield AgentNoAnswer(agent, self.clock.now())

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(self.stop.wait())
        _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
