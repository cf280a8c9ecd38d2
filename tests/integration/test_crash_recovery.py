"""Scale-out and crash safety with real processes on PostgreSQL: two `voxcast worker`s share a
campaign, one is killed with SIGKILL mid-campaign, a new one starts, and the campaign finishes
with every callee dialed at most once and exactly one call record per callee."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, update

from tests.conftest import PostgresFactory
from tests.integration.dialing import insert_task
from tests.integration.worker_procs import stop_all, workers_on
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, Callee, CallRecord, Task

SPEED = 5.0
NUMBERS = 200


async def test_killed_worker_loses_no_record_and_dials_no_one_twice(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    url = await pg_factory.new_database()
    workers, rt = await workers_on(url, tmp_path, SPEED, VOXCAST_LEASE_MARGIN_SECONDS="10")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="crash", balance=Decimal(1000)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
            await session.execute(
                update(Account)
                .where(Account.id == creds.account_id)
                .values(max_cps=4, max_channels=12)
            )
        numbers = [f"8613{i:08d}0" for i in range(NUMBERS)]
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, numbers, max_ringing_time=20, max_calls=10
        )
        log = tmp_path / "workers.log"
        victim = workers.start(log)
        procs = [victim, workers.start(log)]

        async def records() -> int:
            async with rt.sessions() as session:
                return int(
                    await session.scalar(
                        select(func.count())
                        .select_from(CallRecord)
                        .where(CallRecord.task_id == task_id)
                    )
                    or 0
                )

        async def held_by_victim() -> set[str]:
            # the calls the victim has in progress (worker ids hold the pid)
            async with rt.sessions() as session:
                return set(
                    (
                        await session.scalars(
                            select(Callee.callee).where(
                                Callee.task_id == task_id,
                                Callee.state == CalleeState.DIALING,
                                Callee.lease_owner.like(f"%:{victim.pid}:%"),
                            )
                        )
                    ).all()
                )

        # kill it mid-campaign while it holds calls: on a loaded machine the other worker may
        # claim everything for a while, so wait for both conditions rather than a fixed count
        deadline = time.monotonic() + 90
        while await records() < NUMBERS // 4 or not await held_by_victim():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        cut_off = await held_by_victim()
        assert cut_off, "the victim held no call when it was killed: the test proves nothing"
        procs.append(workers.start(log))

        deadline = time.monotonic() + 120
        while True:
            async with rt.sessions() as session:
                status = await session.scalar(select(Task.status).where(Task.id == task_id))
            if status == TaskStatus.FINISHED:
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.3)

        async with rt.sessions() as session:
            callees = (
                await session.execute(
                    select(Callee.callee, Callee.attempts, Callee.state, Callee.voice_id).where(
                        Callee.task_id == task_id
                    )
                )
            ).all()
            recs = (
                await session.execute(
                    select(
                        CallRecord.voice_id,
                        CallRecord.callee,
                        CallRecord.sip_code,
                        CallRecord.termination_code,
                        CallRecord.termination_reason,
                    ).where(CallRecord.task_id == task_id)
                )
            ).all()
        assert len(callees) == NUMBERS
        assert all(c.attempts == 1 for c in callees), "a callee was dialed twice"
        assert all(c.state == CalleeState.DONE for c in callees)
        assert len(recs) == NUMBERS, "a call record was lost"
        assert len({r.callee for r in recs}) == NUMBERS
        assert {r.voice_id for r in recs} == {c.voice_id for c in callees}
        # exactly the calls cut off by the kill are recorded lost (every other callee answers)
        lost = {
            r.callee: (r.sip_code, r.termination_code, r.termination_reason)
            for r in recs
            if r.sip_code != "200"
        }
        assert lost == {n: ("500", "500", "system error") for n in cut_off}
    finally:
        stop_all(procs)
        await rt.close()
        await pg_factory.drop(url)
