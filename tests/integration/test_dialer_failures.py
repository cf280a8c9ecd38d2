"""The dialer when things break, on SQLite and PostgreSQL: a call whose worker died is recorded
as lost (sipCode 500) exactly once, only after its lease has run out, and never redialed; a
carrier that raises while placing a call gives a 500 record, not a stuck callee."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.dialing import dialer_rig, insert_task, records_of, wait_status
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.dialer import store
from voxcast.dialer.engine import Dialer
from voxcast.domain.enums import CalleeState, TaskKind, TaskStatus
from voxcast.ports import Call, CallEvent, Carrier, DialRequest, Ringing
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, Callee, Task

LEASE_S = 60


class NoCarrier:
    """A carrier that must never be asked for a call (the reaper never redials)."""

    virtual_agents = False

    async def dial(self, request: DialRequest) -> Call:
        raise AssertionError(f"{request.callee} was dialed again")

    async def close(self) -> None:
        return None


@dataclass
class Orphan:
    account_id: int
    task_id: int
    callee_id: int
    dialed_at: datetime


async def orphaned_call(rt: Runtime, **columns: Any) -> Orphan:
    """A calling task whose one callee was claimed by a worker that then died: DIALING, leased
    to "dead-worker" for LEASE_S seconds from now."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="reap", balance=Decimal(10)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.06"))
    task_id = await insert_task(
        rt, creds.account_id, creds.app_id, ["8613000000000"], status=TaskStatus.CALLING, **columns
    )
    async with rt.sessions.begin() as session:
        (got,) = await store.claim(
            session, task_id, 1, now, "dead-worker", now + timedelta(seconds=LEASE_S)
        )
        await session.execute(
            update(Callee).where(Callee.id == got.id).values(voice_id="2026030209000000001")
        )
    return Orphan(creds.account_id, task_id, got.id, now)


@pytest.fixture
async def live(rt: Runtime, settings: Settings) -> AsyncIterator[Dialer]:
    # no outage seen and no margin to wait out: the reaper may act on its first tick
    settings.lease_margin_seconds = 0.0
    pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
    dialer = Dialer(rt, lambda _a: NoCarrier(), pool=pool, worker_id="live-worker")
    yield dialer
    await pool.aclose()


async def test_a_dead_workers_call_is_recorded_as_lost_once_after_its_lease(
    rt: Runtime, clock: FixedClock, live: Dialer
) -> None:
    orphan = await orphaned_call(rt)
    clock.advance(LEASE_S)  # the lease ends now: not yet run out
    await live.tick()
    assert await records_of(rt, orphan.task_id) == []
    clock.advance(1)
    await live.tick()
    clock.advance(1)
    await live.tick()  # a second pass finds nothing more to reap
    (rec,) = await records_of(rt, orphan.task_id)
    async with rt.sessions() as session:
        callee = await session.get(Callee, orphan.callee_id)
        balance = await session.scalar(
            select(Account.balance).where(Account.id == orphan.account_id)
        )
    assert callee is not None
    assert rec.sip_code == "500" and rec.termination_code == "500"
    assert rec.termination_reason == "system error"
    assert rec.voice_id == "2026030209000000001"
    assert rec.call_time == orphan.dialed_at
    assert rec.hangup_time == orphan.dialed_at + timedelta(seconds=LEASE_S + 1)
    assert (rec.call_duration, rec.charged_duration, rec.cost) == (0, 0, Decimal(0))
    assert (callee.state, callee.attempts, callee.lease_owner) == (CalleeState.DONE, 1, None)
    assert callee.sip_code == 500 and callee.success is False
    assert balance == Decimal(10)
    assert live.stats.lost == 1 and live.stats.started == 0
    assert await task_status_of(rt, orphan.task_id) == TaskStatus.FINISHED


async def test_two_live_workers_reaping_at_once_record_the_lost_call_once(
    rt: Runtime, clock: FixedClock, settings: Settings, live: Dialer
) -> None:
    orphan = await orphaned_call(rt)
    pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
    other = Dialer(rt, lambda _a: NoCarrier(), pool=pool, worker_id="other-worker")
    try:
        clock.advance(LEASE_S + 5)
        await asyncio.gather(live.tick(), other.tick())
        await asyncio.gather(live.tick(), other.tick())
    finally:
        await pool.aclose()
    recs = await records_of(rt, orphan.task_id)
    assert [r.sip_code for r in recs] == ["500"]
    assert live.stats.lost + other.stats.lost == 1


async def test_a_lost_voice_otp_is_final_even_with_recalls_left(
    rt: Runtime, clock: FixedClock, live: Dialer
) -> None:
    orphan = await orphaned_call(
        rt,
        kind=TaskKind.CODE,
        task_name=None,
        params={"recallCount": 3, "recallInterval": 1},
    )
    clock.advance(LEASE_S + 1)
    await live.tick()
    clock.advance(10 * 60)  # well past every recall interval
    await live.tick()
    (rec,) = await records_of(rt, orphan.task_id)
    async with rt.sessions() as session:
        callee = await session.get(Callee, orphan.callee_id)
    assert callee is not None
    assert rec.sip_code == "500" and rec.type == 2
    assert (callee.state, callee.attempts, callee.next_attempt_at) == (CalleeState.DONE, 1, None)


class BrokenCarrier:
    """The sandbox, except that dialing BOOM_DIAL raises and BOOM_RINGING raises once ringing."""

    virtual_agents = True

    def __init__(self, inner: Carrier) -> None:
        self.inner = inner

    async def dial(self, request: DialRequest) -> Call:
        if request.callee == BOOM_DIAL:
            raise ConnectionResetError("trunk socket reset")
        call = await self.inner.dial(request)
        return RingThenRaise(call) if request.callee == BOOM_RINGING else call

    async def close(self) -> None:
        await self.inner.close()


class RingThenRaise:
    def __init__(self, call: Call) -> None:
        self.call = call

    async def events(self) -> AsyncIterator[CallEvent]:
        async for event in self.call.events():
            yield event
            if isinstance(event, Ringing):
                raise RuntimeError("media relay died")

    async def hangup(self) -> None:
        await self.call.hangup()


BOOM_DIAL = "8613000000100"
BOOM_RINGING = "8613000000200"
FINE = "8613000000000"  # the sandbox answers, plays the prompt, hangs up


async def test_a_carrier_exception_becomes_a_500_record_and_the_task_goes_on(
    settings: Settings,
) -> None:
    async with dialer_rig(settings, speed=100, wrap=BrokenCarrier) as rig:
        async with rig.rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rig.rt.secrets, rig.clock.now(), name="boom", balance=Decimal(10)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.06"))
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, [BOOM_DIAL, BOOM_RINGING, FINE]
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=30)
        recs = {r.callee: r for r in await records_of(rig.rt, task_id)}
        async with rig.rt.sessions() as session:
            callees = {
                c.callee: c
                for c in (
                    await session.scalars(select(Callee).where(Callee.task_id == task_id))
                ).all()
            }
    assert sorted(recs) == sorted([BOOM_DIAL, BOOM_RINGING, FINE])
    for number in (BOOM_DIAL, BOOM_RINGING):
        rec, callee = recs[number], callees[number]
        assert (rec.sip_code, rec.termination_code) == ("500", "500"), number
        assert rec.termination_reason == "system error"
        assert (rec.call_duration, rec.charged_duration, rec.cost) == (0, 0, Decimal(0))
        assert rec.hangup_time is not None and rec.call_time is not None
        assert rec.hangup_time >= rec.call_time
        assert (callee.state, callee.attempts, callee.sip_code) == (CalleeState.DONE, 1, 500)
    assert recs[BOOM_DIAL].ringing_time is None and recs[BOOM_DIAL].ring_duration == 0
    assert recs[BOOM_RINGING].ringing_time is not None
    assert recs[FINE].sip_code == "200" and recs[FINE].call_duration > 0


async def task_status_of(rt: Runtime, task_id: int) -> int:
    async with rt.sessions() as session:
        status = await session.scalar(select(Task.status).where(Task.id == task_id))
    return int(status) if status is not None else -1
