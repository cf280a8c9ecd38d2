"""Seats of a worker killed with SIGKILL, on PostgreSQL with real processes: one seat in a
transferred call (busy), one in its group's wrap-up; a worker started afterwards gives both
back (offline: the sandbox's virtual agents never registered) once the dead worker's hold on
them has run out, and says so in its log."""

from __future__ import annotations

import re
import signal
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import PostgresFactory
from tests.integration.dialing import insert_task
from tests.integration.worker_procs import read_log, stop_all, wait_for, workers_on
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents, rates
from voxcast.storage.models import Agent

SPEED = 5.0
#: the virtual agent talks 10 s, then wraps up for an hour: long past the test
WRAP_UP_S = 3600
Status = agents.AgentStatus
BUSY, WRAP_UP, OFFLINE = Status.BUSY, Status.WRAP_UP, Status.OFFLINE


async def _statuses(rt: Runtime, ids: list[int]) -> list[int]:
    async with rt.sessions() as session:
        rows = dict((await session.execute(select(Agent.id, Agent.status))).tuples().all())
    return [int(rows[i]) for i in ids]


def _transfer(group_id: int) -> dict[str, Any]:
    return {"toSeat": 1, "sipGroupId": group_id, "toSeatType": 1, "outboundControl": 1,
            "calloutRate": 1}  # fmt: skip


async def test_seats_of_a_killed_worker_are_given_back_by_the_next_one(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # conftest leaves this file out when PostgreSQL is off
    url = await pg_factory.new_database()
    workers, rt = await workers_on(url, tmp_path, SPEED, VOXCAST_LEASE_MARGIN_SECONDS="2")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        now = rt.clock.now()
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, now, name="seats", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            group = await agents.add_group(session, creds.account_id, creds.app_id, "desk", now)
            await agents.set_basic(
                session,
                creds.account_id,
                group.id,
                {"wrapUpTime": WRAP_UP_S, "timeoutWaitSec": 600},
            )
            seats = await agents.add_agents(
                session, rt.secrets, creds.account_id, group.id, 2, None, None, now
            )
        ids = [s.key_id for s in seats]
        procs.append(workers.start(first_log))

        # one seat talks to a callee and goes into wrap-up; then the other takes a call
        await insert_task(
            rt, creds.account_id, creds.app_id, ["8613000000000"], text="Hi.",
            params=_transfer(group.id),
        )  # fmt: skip

        async def one_wrapping_up() -> bool:
            return sorted(await _statuses(rt, ids)) == sorted([WRAP_UP, OFFLINE])

        await wait_for("no seat in wrap-up", one_wrapping_up, first_log, 60)
        await insert_task(
            rt, creds.account_id, creds.app_id, ["8613000000010"], text="Hi.",
            params=_transfer(group.id),
        )  # fmt: skip

        async def one_busy_one_wrapping_up() -> bool:
            return sorted(await _statuses(rt, ids)) == sorted([BUSY, WRAP_UP])

        await wait_for("no seat busy", one_busy_one_wrapping_up, first_log, 60)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=10)

        # the next worker gives both back once the dead worker's hold has run out
        procs.append(workers.start(second_log))

        async def given_back() -> bool:
            return await _statuses(rt, ids) == [OFFLINE, OFFLINE]

        await wait_for("the seats stayed taken", given_back, second_log, 60)
        async with rt.sessions() as session:
            holds = (await session.execute(select(Agent.held_by, Agent.held_until))).all()
        assert [tuple(h) for h in holds] == [(None, None), (None, None)]
        text = read_log(second_log)
        given = re.findall(r"gave back (\d+) seats held by dead workers", text)
        assert sum(map(int, given)) == 2, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
    finally:
        stop_all(procs)
        await rt.close()
        await pg_factory.drop(url)
