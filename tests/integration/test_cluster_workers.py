"""Several nodes on one PostgreSQL, as real `voxcast` processes: proportional dialing's
allowance (calloutRate x free agents) holds for two workers together, counted from the call
records; a recording made by one node downloads through another node's API."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import PostgresFactory
from tests.integration.dialing import insert_task
from tests.integration.worker_procs import read_log, stop_all, wait_for, workers_on
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents, rates
from voxcast.storage.models import Account, Callee, CcRecord, Task

pytestmark = pytest.mark.timeout(240)

SPEED = 10.0
AGENTS = 2
CALLOUT_RATE = 2
NUMBERS = 16


async def _call_center(rt: Runtime) -> tuple[accounts.Credentials, int]:
    """An account free of channel and pace limits, with AGENTS virtual agents who take calls
    back to back; callees wait for them as long as it takes (no abandons lower the ratio)."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="cluster", balance=Decimal(1000)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
        await session.execute(
            update(Account)
            .where(Account.id == creds.account_id)
            .values(max_cps=100, max_channels=100)
        )
        group = await agents.add_group(session, creds.account_id, creds.app_id, "desk", now)
        await agents.set_basic(session, creds.account_id, group.id, {"timeoutWaitSec": 600})
        await agents.add_agents(
            session, rt.secrets, creds.account_id, group.id, AGENTS, None, None, now
        )
    return creds, group.id


def _peak(spans: list[tuple[datetime, datetime]]) -> int:
    """Most spans open at one instant (a span ending as another starts does not overlap)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
                   key=lambda e: (e[0], e[1]))  # fmt: skip
    peak = open_now = 0
    for _at, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def test_two_workers_together_keep_to_callout_rate_times_free_agents(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    url = await pg_factory.new_database()
    workers, rt = await workers_on(url, tmp_path, SPEED)
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "workers.log"
    try:
        creds, group_id = await _call_center(rt)
        procs = [workers.start(log, level="info") for _ in range(2)]

        # both dial from the campaign's first tick: a per-worker count lets each fill the
        # allowance on its own
        async def both_started() -> bool:
            return read_log(log).count("started (dialer") == 2

        await wait_for("both workers started", both_started, log, 60)
        numbers = [f"861300000{i:03d}0" for i in range(NUMBERS)]  # all answer
        params = {"toSeat": 1, "sipGroupId": group_id, "toSeatType": 1, "outboundControl": 1,
                  "calloutRate": CALLOUT_RATE}  # fmt: skip
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, numbers, text="Hi.", params=params
        )

        # which worker placed each call (its lease names its pid while the call runs)
        placed_by: dict[str, str] = {}
        deadline = time.monotonic() + 150
        while True:
            async with rt.sessions() as session:
                status = await session.scalar(select(Task.status).where(Task.id == task_id))
                rows = await session.execute(
                    select(Callee.callee, Callee.lease_owner).where(
                        Callee.task_id == task_id, Callee.state == CalleeState.DIALING
                    )
                )
            for callee, owner in rows:
                placed_by.setdefault(callee, owner.split(":")[1])
            if status == TaskStatus.FINISHED:
                break
            assert time.monotonic() < deadline, read_log(log)[-3000:]
            await asyncio.sleep(0.05)

        async with rt.sessions() as session:
            recs = list(
                (await session.scalars(select(CcRecord).where(CcRecord.task_id == task_id))).all()
            )
    finally:
        stop_all(procs)
        await rt.close()
        await pg_factory.drop(url)

    assert len(recs) == NUMBERS
    assert all(r.agent_answer_time is not None and not r.abandoned for r in recs)
    # a call waits from its dial until an agent answers it
    waiting = [(r.call_start_time, r.agent_answer_time) for r in recs if r.agent_answer_time]
    assert _peak(waiting) == CALLOUT_RATE * AGENTS
    pids = {str(p.pid) for p in procs}
    assert set(placed_by.values()) == pids, "one worker placed every call: nothing was shared"
