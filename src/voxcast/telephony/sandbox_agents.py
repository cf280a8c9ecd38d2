"""The sandbox's virtual agents taking a transferred callee: the shared search rings them (no
softphone), one answers and talks, then hangs up; for any sandbox call that is handed over,
a group call's after its message or key and a robot's on its script's word."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from voxcast.ports import CallEvent, Clock, HangupBy, HungUp, ReservedAgent, Transfer
from voxcast.telephony.callcenter.transfer import Ring, Search

VIRTUAL_AGENT_ANSWER_S = 2.0  # a sandbox agent's phone rings this long before it answers
VIRTUAL_AGENT_TALK_S = 10.0  # ...and the agent talks this long, then hangs up


def virtual_agent_answers(agent: ReservedAgent) -> bool:
    """Sandbox agents answer, except those whose job number (empNo) ends in 4."""
    return not (agent.emp_no or "").endswith("4")


class WaitForAgent:
    """One callee waiting for a virtual agent: `run()` yields the search's events and ends
    with the call's `HungUp` (nobody took it, the agent or the callee hung up, or we did:
    `hung_up` set). `gone`: when the simulated callee hangs up by itself, if it does."""

    def __init__(
        self, transfer: Transfer, clock: Clock, hung_up: asyncio.Event, gone: datetime | None
    ) -> None:
        self._transfer = transfer
        self._clock = clock
        self._hung_up = hung_up
        self._gone = gone

    async def run(self) -> AsyncIterator[CallEvent]:
        transfer, gone = self._transfer, self._gone
        stop = asyncio.Event()
        watchers = [asyncio.ensure_future(self._stop_when(stop, gone))]
        search = Search(transfer, self._clock, self._ring(stop), stop)
        try:
            async for event in search.run():
                yield event
            agent = search.answered
            if agent is None:
                if self._hung_up.is_set():
                    yield HungUp(self._clock.now(), HangupBy.US, 200, "hung up by us")
                elif gone is not None and self._clock.now() >= gone:
                    yield HungUp(gone, HangupBy.CALLEE, 200, "callee hung up while waiting")
                else:
                    yield HungUp(self._clock.now(), HangupBy.US, 200, "no agent free")
                return
            talk_end = search.answered_at + timedelta(
                seconds=min(VIRTUAL_AGENT_TALK_S, transfer.max_talk_s)
            )
            ends_by = HangupBy.AGENT
            if gone is not None and gone < talk_end:
                talk_end, ends_by = gone, HangupBy.CALLEE
            stop.clear()
            watchers.append(asyncio.ensure_future(self._stop_when(stop, talk_end)))
            try:
                await stop.wait()
            finally:  # also when the call's reader gave up on it: the agent is free again
                await transfer.desk.release(agent, talked=True)
            if self._hung_up.is_set() and self._clock.now() < talk_end:
                yield HungUp(self._clock.now(), HangupBy.US, 200, "hung up by us")
            else:
                reason = "agent hung up" if ends_by is HangupBy.AGENT else "callee hung up"
                yield HungUp(talk_end, ends_by, 200, reason)
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def _stop_when(self, stop: asyncio.Event, when: datetime | None) -> None:
        """Set `stop` at `when` (the callee or agent hangs up) or when we hang up."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._hung_up.wait())]
        if when is not None:
            waits.append(
                asyncio.ensure_future(
                    self._clock.sleep(max((when - self._clock.now()).total_seconds(), 0.0))
                )
            )
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        stop.set()

    def _ring(self, stop: asyncio.Event) -> Ring:
        async def ring(agent: ReservedAgent) -> bool:
            answers = virtual_agent_answers(agent)
            seconds = VIRTUAL_AGENT_ANSWER_S if answers else agent.ring_timeout_s
            sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
            stopper = asyncio.ensure_future(stop.wait())
            done, pending = await asyncio.wait(
                {sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            return answers and sleeper in done

        return ring
