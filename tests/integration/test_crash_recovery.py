"""Scale-out and crash safety with real processes on PostgreSQL: two `voxcast worker`s share a
campaign, one is killed with SIGKILL mid-campaign, a new one starts, and the campaign finishes
with every callee dialed at most once and exactly one call record per callee."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select, update

from tests.conftest import PostgresFactory
from tests.integration.dialing import insert_task
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, Callee, CallRecord, Task

SPEED = 5.0
NUMBERS = 200
VOXCAST = str(Path(sys.executable).parent / "voxcast")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [VOXCAST, "worker", "--sandbox-speed", str(SPEED), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_killed_worker_loses_no_record_and_dials_no_one_twice(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    url = await pg_factory.new_database()
    epoch = time.time()
    key = generate_key()
    env = dict(os.environ)
    env.update(
        {
            "VOXCAST_DATABASE_URL": url,
            "VOXCAST_DATA_DIR": str(tmp_path / "var"),
            "VOXCAST_SECRET_KEY": key,
            "VOXCAST_SANDBOX_EPOCH": str(epoch),
            "VOXCAST_LEASE_MARGIN_SECONDS": "10",
        }
    )
    settings = Settings()
    settings.database_url = url
    settings.secret_key = key
    settings.data_dir = tmp_path / "var"
    clock = ScaledClock(SPEED, anchor=datetime.fromtimestamp(epoch, UTC))
    rt = await open_runtime(settings, clock)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, clock.now(), name="crash", balance=Decimal(1000)
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
        victim = start_worker(env, log)
        procs = [victim, start_worker(env, log)]

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

        deadline = time.monotonic() + 60
        while await records() < NUMBERS // 4:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        procs.append(start_worker(env, log))

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
                    select(CallRecord.voice_id, CallRecord.callee, CallRecord.sip_code).where(
                        CallRecord.task_id == task_id
                    )
                )
            ).all()
        assert len(callees) == NUMBERS
        assert all(c.attempts == 1 for c in callees), "a callee was dialed twice"
        assert all(c.state == CalleeState.DONE for c in callees)
        assert len(recs) == NUMBERS, "a call record was lost"
        assert len({r.callee for r in recs}) == NUMBERS
        assert {r.voice_id for r in recs} == {c.voice_id for c in callees}
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        await rt.close()
        await pg_factory.drop(url)
