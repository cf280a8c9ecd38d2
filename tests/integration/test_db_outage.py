"""Chaos test: a private PostgreSQL cluster is stopped (immediate shutdown) for 8 s in the middle
of a campaign run by two real `voxcast worker`s; every callee must still end with exactly one
record of its true outcome and charge, and the balance must be debited exactly their sum."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

import voxcast
from tests import ports
from tests.helpers import signed_headers
from tests.integration.dialing import insert_task
from tests.integration.worker_procs import stop_all
from voxcast.api.app import create_app
from voxcast.clock import FixedClock, ScaledClock
from voxcast.config import Settings
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import SecretBox, generate_key, load_or_create_key
from voxcast.services import accounts, rates
from voxcast.services.authcache import INFO_KEY, AuthCache
from voxcast.storage.db import make_engine, make_readonly_sessionmaker, make_sessionmaker
from voxcast.storage.models import Account, Callee, CallRecord, Task

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SPEED = 10.0
NUMBERS = 300
OUTAGE_S = 8.0
VOXCAST = str(Path(sys.executable).parent / "voxcast")
#: last digit -> (sipCode, talk seconds): maxCalls 10 cuts the long prompt of a 0 at 10 s
TRUTH = {"0": ("200", 10), "3": ("200", 3), "5": ("486", 0), "7": ("404", 0), "8": ("503", 0)}
#: USD per minute; billed per second ("1+1"), so a call costs 0.001 per talk second
RATE = Decimal("0.06")
TEXT = "Hello, this is a reminder about your appointment tomorrow morning. " * 4


def _free_port() -> int:
    return ports.free_port(socket.SOCK_STREAM)


def _as_postgres(*args: str) -> None:
    cmd = list(args)
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


class Cluster:
    """A throw-away PostgreSQL cluster in a temporary directory, on a free local port."""

    def __init__(self, root: Path, port: int) -> None:
        self.data = root / "data"
        self.port = port
        self.root = root

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="voxcast-pg-"))
    cluster = Cluster(root, _free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust"
        )
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [VOXCAST, "worker", "--sandbox-speed", str(SPEED), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_database_outage_loses_and_misbills_no_call(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        await _campaign_through_outage(cluster, tmp_path)


async def _campaign_through_outage(cluster: Cluster, tmp_path: Path) -> None:
    epoch = time.time()
    key = generate_key()
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(Path(voxcast.__file__).parent.parent),
            "VOXCAST_DATABASE_URL": cluster.url,
            "VOXCAST_DATA_DIR": str(tmp_path / "var"),
            "VOXCAST_SECRET_KEY": key,
            "VOXCAST_SANDBOX_EPOCH": str(epoch),
            # leases run out during the outage: only the fix keeps them from being reaped
            "VOXCAST_LEASE_MARGIN_SECONDS": "2",
        }
    )
    settings = Settings()
    settings.database_url = cluster.url
    settings.secret_key = key
    settings.data_dir = tmp_path / "var"
    clock = ScaledClock(SPEED, anchor=datetime.fromtimestamp(epoch, UTC))
    rt = await open_runtime(settings, clock)
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "workers.log"
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, clock.now(), name="outage", balance=Decimal(1000)
            )
            await rates.set_rate(session, creds.account_id, "", RATE)
            await session.execute(
                update(Account)
                .where(Account.id == creds.account_id)
                .values(max_cps=10, max_channels=30, bill_period="1+1")
            )
        digits = list(TRUTH)
        numbers = [f"8613{i:08d}{digits[i % len(digits)]}" for i in range(NUMBERS)]
        task_id = await insert_task(
            rt,
            creds.account_id,
            creds.app_id,
            numbers,
            max_ringing_time=20,
            max_calls=10,
            text=TEXT,
        )
        procs = [start_worker(env, log), start_worker(env, log)]

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

        deadline = time.monotonic() + 40
        while await records() < NUMBERS // 5:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        cluster.stop()
        await asyncio.sleep(OUTAGE_S)
        cluster.start()

        deadline = time.monotonic() + 40
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
                    select(Callee.callee, Callee.attempts, Callee.state).where(
                        Callee.task_id == task_id
                    )
                )
            ).all()
            recs = (
                await session.execute(
                    select(
                        CallRecord.callee,
                        CallRecord.sip_code,
                        CallRecord.call_duration,
                        CallRecord.cost,
                    ).where(CallRecord.task_id == task_id)
                )
            ).all()
            balance = await session.scalar(
                select(Account.balance).where(Account.id == creds.account_id)
            )
        assert len(callees) == NUMBERS
        assert all(c.attempts == 1 for c in callees), "a callee was dialed twice"
        assert all(c.state == CalleeState.DONE for c in callees)
        by_callee: dict[str, list[tuple[str, int, Decimal]]] = {}
        for r in recs:
            by_callee.setdefault(r.callee, []).append((r.sip_code, r.call_duration, r.cost))
        assert sorted(by_callee) == sorted(numbers)
        twice = [n for n, rows in by_callee.items() if len(rows) != 1]
        assert twice == [], f"{len(twice)} callees with more than one record"
        lost = sorted(n for n, rows in by_callee.items() if rows[0][0] == "500")
        assert lost == [], f"{len(lost)} calls recorded as lost"
        wrong = {
            n: rows[0]
            for n, rows in by_callee.items()
            if rows[0]
            != (
                TRUTH[n[-1]][0],
                TRUTH[n[-1]][1],
                (RATE * TRUTH[n[-1]][1] / 60).quantize(Decimal("0.000001")),
            )
        }
        assert wrong == {}
        total = sum((rows[0][2] for rows in by_callee.values()), Decimal(0))
        assert total == Decimal("0.001") * sum(TRUTH[n[-1]][1] for n in numbers)
        assert balance == Decimal(1000) - total
        lines = log.read_text().splitlines()
        # one warning per outage and loop, not a traceback per tick or per batch
        ours = (
            "voxcast.dialer",
            "voxcast.recorder",
            "voxcast.worker",
            "voxcast.push",
            "voxcast.carriers",
        )
        errors = [ln for ln in lines if " ERROR " in ln and any(n in ln for n in ours)]
        assert errors == [], "\n".join(lines[-60:])
        for name in ("voxcast.dialer", "voxcast.recorder", "voxcast.carriers"):
            down = [ln for ln in lines if f"WARNING {name} database unreachable" in ln]
            back = [ln for ln in lines if f"WARNING {name} database reachable again" in ln]
            assert len(down) == len(back) <= 2, "\n".join(lines[-40:])
        assert any("voxcast.dialer database unreachable" in ln for ln in lines)
    finally:
        stop_all(procs)
        await rt.close()


async def test_api_answers_a_system_error_in_one_line_while_the_database_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/voxcast"  # nothing listens there
    engine = make_engine(url)
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC))
    box = SecretBox(load_or_create_key(generate_key(), tmp_path))
    cache = AuthCache(0)
    info = {INFO_KEY: cache}
    rt = Runtime(
        Settings(),
        clock,
        engine,
        make_sessionmaker(engine, info),
        box,
        clock,
        make_readonly_sessionmaker(engine, info),
        cache,
    )
    app = create_app(rt)
    headers = signed_headers("k" * 32, "s" * 32, int(clock.now().timestamp()))
    caplog.set_level(logging.INFO)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://voxcast.test"
        ) as http:
            started = time.monotonic()
            answers = [(await http.get("/v3/getBalance", headers=headers)) for _ in range(3)]
            elapsed = time.monotonic() - started
    finally:
        await engine.dispose()
    assert [(a.status_code, a.json()) for a in answers] == [
        (
            200,
            {
                "status": "-18",
                "reason": "Port program unusual: database unavailable, try again later",
            },
        )
    ] * 3
    assert elapsed < 5
    ours = [r for r in caplog.records if r.name.startswith("voxcast")]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in ours] == [
        ("WARNING", "database unavailable (ConnectionRefusedError); request answered -18", None)
    ] * 3
