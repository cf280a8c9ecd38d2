"""A claim's clock against its account's lock, on SQLite and PostgreSQL: a call whose channel
a claim sees free hung up before the calls that claim starts (issue 17's channel breach)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select

from tests.conftest import START
from tests.integration.dialing import insert_task, records_of
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.dialer import store
from voxcast.dialer.engine import Dialer
from voxcast.dialer.recorder import Finished
from voxcast.domain.callresult import CallFacts
from voxcast.domain.enums import TaskStatus
from voxcast.ports import Call, DialRequest, HangupBy
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, Callee

WORKER = "claim-worker"


class HeldCarrier:
    """A carrier whose calls never connect: the test looks only at what the claim wrote."""

    virtual_agents = False

    async def dial(self, request: DialRequest) -> Call:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        return None


async def test_a_claim_reads_its_clock_after_the_lock_the_recorder_waits_on(
    rt: Runtime, clock: FixedClock, settings: Settings
) -> None:
    # one channel, taken by a call that started at START; the second callee waits for it
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, clock.now(), name="one-channel", balance=Decimal(10)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.06"))
        await session.execute(
            Account.__table__.update()
            .where(Account.id == creds.account_id)
            .values(max_channels=1, max_cps=10)
        )
    numbers = ["8613000000000", "8613000000010"]
    task_id = await insert_task(
        rt, creds.account_id, creds.app_id, numbers, status=TaskStatus.CALLING
    )
    async with rt.sessions.begin() as session:
        (limits, contexts), *_ = await store.calling_tasks(session)
        (first,) = await store.claim(
            session, task_id, 1, clock.now(), WORKER, clock.now() + timedelta(minutes=5)
        )
        first.voice_id = "2026030209000000001"
        await store.set_voice_ids(session, [first])
    pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
    dialer = Dialer(rt, lambda _a: HeldCarrier(), pool=pool, worker_id=WORKER)
    clock.advance(10)

    # the recorder's transaction writing the first call's end holds the account's lock (on
    # SQLite the one write lock; on PostgreSQL a claim's advisory lock stands for it)
    claim: asyncio.Task[int] | None = None
    try:
        async with rt.sessions.begin() as session:
            await store.lock_account(session, limits.id)
            await session.execute(select(Account.balance).where(Account.id == limits.id))
            claim_waits = asyncio.Event()

            def sent(*_args: Any) -> None:
                claim_waits.set()

            # the claim's first statement (SQLite: its BEGIN IMMEDIATE; PostgreSQL: the
            # account's lock) is sent: it waits for the lock held here
            event.listen(rt.engine.sync_engine, "before_cursor_execute", sent)
            try:
                claim = asyncio.create_task(dialer._dial_account(limits, contexts))
                await asyncio.wait_for(claim_waits.wait(), 10)
            finally:
                event.remove(rt.engine.sync_engine, "before_cursor_execute", sent)
            # the first call hangs up while the claim waits, and its result is written
            clock.advance(10)
            hangup = clock.now()
            facts = CallFacts(
                call_time=START,
                answer_time=START + timedelta(seconds=5),
                hangup_time=hangup,
                sip_code=200,
                hangup_by=HangupBy.CALLEE,
            )
            await dialer.recorder.write(
                session, [Finished(contexts[0], first, limits, facts)], owner=WORKER
            )
        started = await asyncio.wait_for(claim, 10)
    finally:
        running = [*dialer.stats.in_flight, *([claim] if claim is not None else [])]
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await pool.aclose()
    (record,) = await records_of(rt, task_id)
    async with rt.sessions() as s:
        second = await s.scalar(select(Callee).where(Callee.task_id == task_id, Callee.seq == 2))
    assert started == 1
    assert second is not None and second.dialed_at is not None
    assert record.hangup_time == hangup
    # the channel the claim saw free was the first call's: the second starts once it ended,
    # not at the clock read before the lock (the two records overlapped: two calls on one)
    assert second.dialed_at >= record.hangup_time
