"""The agent desk: reserves free agents for transfers (atomically, across workers), puts them
back after the group's wrap-up time, and says how many agents a proportional task may dial
for. Sandbox desks use virtual agents: every enabled agent not busy, registered or not."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func, select, update

from voxcast.ports import AgentSlot
from voxcast.runtime import Runtime
from voxcast.services.agents import AgentStatus
from voxcast.storage.models import CcRecord, Seat, SeatGroup

log = logging.getLogger("voxcast.desk")

DEFAULT_WAIT_S = 30.0
DEFAULT_RING_S = 20.0
GROUP_CACHE_S = 5.0
#: the abandon rate a proportional task is held under (the common regulatory ceiling)
ABANDON_CAP = 0.03
#: abandon rate is judged over this many recent transfers of the task
ABANDON_WINDOW = 100


@dataclass(frozen=True)
class GroupInfo:
    name: str
    wait_s: float
    ring_s: float
    wrap_up_s: float


class DbAgentDesk:
    def __init__(self, rt: Runtime, *, virtual: bool) -> None:
        self.rt = rt
        self.virtual = virtual
        self._groups: dict[int, tuple[float, GroupInfo | None]] = {}
        self._wrapping: set[asyncio.Task[None]] = set()

    def _free(self) -> tuple[int, ...]:
        return (AgentStatus.IDLE, AgentStatus.OFFLINE) if self.virtual else (AgentStatus.IDLE,)

    async def group(self, group_id: int) -> GroupInfo | None:
        cached = self._groups.get(group_id)
        if cached is not None and time.monotonic() - cached[0] < GROUP_CACHE_S:
            return cached[1]
        async with self.rt.sessions() as session:
            group = await session.get(SeatGroup, group_id)
        info = None
        if group is not None:
            settings = group.settings or {}
            info = GroupInfo(
                group.group_name,
                float(settings.get("timeoutWaitSec") or DEFAULT_WAIT_S),
                float(settings.get("timeoutTransferSec") or DEFAULT_RING_S),
                float(settings.get("wrapUpTime") or 0),
            )
        self._groups[group_id] = (time.monotonic(), info)
        return info

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> AgentSlot | None:
        info = await self.group(group_id)
        if info is None:
            return None
        free = self._free()
        async with self.rt.sessions.begin() as session:
            query = (
                select(Seat.id)
                .where(Seat.group_id == group_id, Seat.enable.is_(True), Seat.status.in_(free))
                .order_by(Seat.status_changed_at, Seat.id)  # the longest idle first
                .limit(8)
            )
            if not self.virtual:
                query = query.where(Seat.contact.is_not(None))
            if exclude:
                query = query.where(Seat.id.not_in(list(exclude)))
            for seat_id in (await session.scalars(query)).all():
                # the status guard makes the reservation atomic between workers
                took = await session.execute(
                    update(Seat)
                    .where(Seat.id == seat_id, Seat.status.in_(free))
                    .values(status=AgentStatus.BUSY, status_changed_at=self.rt.clock.now())
                    .execution_options(synchronize_session=False)
                )
                if took.rowcount:  # type: ignore[attr-defined]
                    seat = await session.get(Seat, seat_id)
                    assert seat is not None
                    return AgentSlot(
                        key_id=seat.id,
                        name=seat.name,
                        group_name=info.name,
                        emp_no=seat.emp_no,
                        target=None if self.virtual else seat.contact,
                        ring_timeout_s=info.ring_s,
                        wrap_up_s=info.wrap_up_s if not self.virtual else 0.0,
                    )
        return None

    async def release(self, slot: AgentSlot, *, talked: bool) -> None:
        if talked and slot.wrap_up_s > 0:
            await self._set(slot.key_id, wrap_up=True)
            job = asyncio.create_task(self._after_wrap_up(slot))
            self._wrapping.add(job)
            job.add_done_callback(self._wrapping.discard)
            return
        await self._set(slot.key_id, wrap_up=False)

    async def _after_wrap_up(self, slot: AgentSlot) -> None:
        await self.rt.clock.sleep(slot.wrap_up_s)
        await self._set(slot.key_id, wrap_up=False, only_from=AgentStatus.WRAP_UP)

    async def _set(self, key_id: int, *, wrap_up: bool, only_from: int | None = None) -> None:
        """Busy (or wrap-up) → wrap-up, idle (registered) or offline (not registered)."""
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            seat = await session.get(Seat, key_id)
            if seat is None or (only_from is not None and seat.status != only_from):
                return
            if wrap_up:
                seat.status = AgentStatus.WRAP_UP
            else:
                seat.status = AgentStatus.IDLE if seat.contact else AgentStatus.OFFLINE
            seat.status_changed_at = now

    # -- proportional dialing -----------------------------------------------------------------
    async def available(self, group_id: int) -> int:
        """Agents of the group that could take a call now."""
        query = select(func.count()).where(
            Seat.group_id == group_id, Seat.enable.is_(True), Seat.status.in_(self._free())
        )
        if not self.virtual:
            query = query.where(Seat.contact.is_not(None))
        async with self.rt.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def dial_ratio(self, task_id: int, callout_rate: float) -> float:
        """The task's calls per free agent: its calloutRate, lowered while its recent abandon
        rate is over ABANDON_CAP (never below 1)."""
        async with self.rt.sessions() as session:
            recent = (
                select(CcRecord.abandoned)
                .where(CcRecord.task_id == task_id, CcRecord.transfer_time.is_not(None))
                .order_by(CcRecord.call_start_time.desc())
                .limit(ABANDON_WINDOW)
                .subquery()
            )
            total, abandoned = (
                await session.execute(
                    select(
                        func.count(), func.coalesce(func.sum(cast(recent.c.abandoned, Integer)), 0)
                    )
                )
            ).one()
        if not total:
            return callout_rate
        rate = int(abandoned) / int(total)
        if rate <= ABANDON_CAP:
            return callout_rate
        # scale the ratio down in proportion to how far over the cap the task is
        return max(1.0, callout_rate * ABANDON_CAP / rate)

    async def room(self, task_id: int, group_id: int, callout_rate: float, in_flight: int) -> int:
        ratio = await self.dial_ratio(task_id, callout_rate)
        return max(0, math.floor(ratio * await self.available(group_id)) - in_flight)
