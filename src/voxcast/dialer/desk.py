"""The agent desk: reserves free agents for transfers and inbound calls (atomically, across
workers) in the order of the group's callinStrategy, puts them back after the group's wrap-up
time, and says how many agents a proportional task may dial for. Sandbox desks use virtual
agents: every enabled agent not busy (nor wrapping up a call), registered or not."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from voxcast.dialer import store
from voxcast.domain.callin_strategy import Candidate, calls_on, count_day, offer_order
from voxcast.domain.task_settings import group_settings
from voxcast.ports import ReservedAgent
from voxcast.runtime import Runtime
from voxcast.services.agents import AgentStatus

log = logging.getLogger("voxcast.desk")

GROUP_CACHE_S = 5.0
#: the abandon rate a proportional task is held under (the common regulatory ceiling)
ABANDON_CAP = Fraction(3, 100)
#: abandon rate is judged over this many recent transfers of the task
ABANDON_WINDOW = 100


@dataclass(frozen=True)
class AgentGroupRules:
    name: str
    wait_s: float
    ring_s: float
    wrap_up_s: float
    #: callinStrategy (1 longest idle, 2 fewest calls, 3 priority, 4 round robin)
    strategy: int = 1


class DbAgentDesk:
    """`owner`: the worker id its reservations and wrap-ups are held by (the dialer renews
    those holds; when it dies another worker's reaper frees the seats)."""

    def __init__(self, rt: Runtime, *, virtual: bool, owner: str | None = None) -> None:
        self.rt = rt
        self.virtual = virtual
        self.owner = owner
        self._groups: dict[int, tuple[float, AgentGroupRules | None]] = {}
        self._wrapping: set[asyncio.Task[None]] = set()

    def holder(self, now: datetime) -> store.SeatHolder | None:
        """This worker's hold on a seat from `now`: one lease margin (scaled, as calls')."""
        if self.owner is None:
            return None
        speed = max(self.rt.settings.sandbox_speed, 1.0)
        margin = timedelta(seconds=self.rt.settings.lease_margin_seconds * speed)
        return store.SeatHolder(self.owner, now + margin)

    def _free(self) -> tuple[int, ...]:
        return (AgentStatus.IDLE, AgentStatus.OFFLINE) if self.virtual else (AgentStatus.IDLE,)

    async def group(self, group_id: int) -> AgentGroupRules | None:
        cached = self._groups.get(group_id)
        if cached is not None and time.monotonic() - cached[0] < GROUP_CACHE_S:
            return cached[1]
        async with self.rt.sessions() as session:
            group = await store.agent_group(session, group_id)
        info = None
        if group is not None:
            settings = group_settings(group.settings)
            info = AgentGroupRules(
                group.group_name,
                settings.wait_s,
                settings.ring_s,
                settings.wrap_up_s,
                group.callin_strategy,
            )
        self._groups[group_id] = (time.monotonic(), info)
        return info

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None:
        """The first free agent in the group's callinStrategy order that can still be taken."""
        info = await self.group(group_id)
        if info is None:
            return None
        free = self._free()
        now = self.rt.clock.now()
        today = count_day(now)
        async with self.rt.sessions.begin() as session:
            agents = await store.free_agents(
                session, group_id, free, registered_only=not self.virtual, exclude=exclude
            )
            candidates = [
                Candidate(s.id, s.since, s.priority, calls_on(today, s.calls_day, s.calls_today))
                for s in agents
            ]
            if not candidates:
                return None
            # read fresh, not from the group cache: every worker continues the same circle
            last_offered = await store.last_offered_agent(session, group_id)
            for agent_id in offer_order(info.strategy, candidates, last_offered=last_offered):
                # the status guard makes the reservation atomic between workers
                if await store.take_agent(session, agent_id, free, now, self.holder(now)):
                    await store.set_last_offered(session, group_id, agent_id)
                    agent = await store.agent(session, agent_id)
                    assert agent is not None
                    return ReservedAgent(
                        key_id=agent.id,
                        name=agent.name,
                        group_name=info.name,
                        emp_no=agent.emp_no,
                        target=None if self.virtual else agent.contact,
                        route=() if self.virtual else path_of(agent.contact_path),
                        ring_timeout_s=info.ring_s,
                        wrap_up_s=info.wrap_up_s,
                    )
        return None

    async def reserved_agent(self, agent_id: int) -> ReservedAgent | None:
        """An agent reserved elsewhere (sendSip reserves its phone at intake)."""
        async with self.rt.sessions() as session:
            agent = await store.agent(session, agent_id)
        info = None if agent is None else await self.group(agent.group_id)
        if agent is None or info is None:
            return None
        return ReservedAgent(
            key_id=agent.id,
            name=agent.name,
            group_name=info.name,
            emp_no=agent.emp_no,
            target=None if self.virtual else agent.contact,
            route=() if self.virtual else path_of(agent.contact_path),
            ring_timeout_s=info.ring_s,
            wrap_up_s=info.wrap_up_s if not self.virtual else 0.0,
        )

    async def free(self, agent_id: int) -> None:
        """Back to idle (or offline) at once: a reserved agent whose call was lost."""
        await self._set(agent_id, wrap_up=False, only_from=AgentStatus.BUSY)

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
        """`talked`: the agent took the call, which counts towards its calls today."""
        if talked and agent.wrap_up_s > 0:
            await self._set(agent.key_id, wrap_up=True, counted=True)
            job = asyncio.create_task(self._after_wrap_up(agent))
            self._wrapping.add(job)
            job.add_done_callback(self._wrapping.discard)
            return
        await self._set(agent.key_id, wrap_up=False, counted=talked)

    async def _after_wrap_up(self, agent: ReservedAgent) -> None:
        await self.rt.clock.sleep(agent.wrap_up_s)
        await self._set(agent.key_id, wrap_up=False, only_from=AgentStatus.WRAP_UP)

    async def _set(
        self, key_id: int, *, wrap_up: bool, only_from: int | None = None, counted: bool = False
    ) -> None:
        """Busy (or wrap-up) → wrap-up, idle (registered) or offline (not registered);
        `counted`: one more call taken today."""
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            await store.set_agent_status(
                session,
                key_id,
                now,
                wrap_up=wrap_up,
                only_from=only_from,
                counted=counted,
                holder=self.holder(now),
            )

    # -- proportional dialing -----------------------------------------------------------------
    async def available(self, group_id: int) -> int:
        """Agents of the group that could take a call now."""
        async with self.rt.sessions() as session:
            return await store.count_free_agents(
                session, group_id, self._free(), registered_only=not self.virtual
            )

    async def dial_ratio(self, task_id: int, callout_rate: float) -> Fraction:
        """The task's calls per free agent: its calloutRate, lowered while its recent abandon
        rate is over ABANDON_CAP (never below 1). Exact: a float ratio times the free agents
        could floor one call short (5 x 3% / 5% x 1 agent is 2.9999999999999996)."""
        async with self.rt.sessions() as session:
            total, abandoned = await store.recent_abandons(session, task_id, ABANDON_WINDOW)
        ratio = Fraction(callout_rate)
        if not total:
            return ratio
        rate = Fraction(int(abandoned), int(total))
        if rate <= ABANDON_CAP:
            return ratio
        # scale the ratio down in proportion to how far over the cap the task is
        return max(Fraction(1), ratio * ABANDON_CAP / rate)

    async def allowance(self, task_id: int, group_id: int, callout_rate: float) -> int:
        """How many of the task's calls may wait for an agent at once, on all workers
        together: the dial ratio times the free agents, rounded down."""
        ratio = await self.dial_ratio(task_id, callout_rate)
        return math.floor(ratio * await self.available(group_id))

    async def room(self, task_id: int, group_id: int, callout_rate: float, in_flight: int) -> int:
        """More calls the task may place with `in_flight` of them waiting (see `room_left`)."""
        return room_left(await self.allowance(task_id, group_id, callout_rate), in_flight)


def room_left(allowance: int, waiting: int) -> int:
    """The proportional rule: calls a task may still place when `waiting` of its calls (on any
    worker) are not yet with an agent and `allowance` may be."""
    return max(0, allowance - waiting)


def path_of(stored: str | None) -> tuple[str, ...]:
    """The Route set kept with an agent's registration (one Path value a line)."""
    return tuple(line for line in (stored or "").splitlines() if line)
