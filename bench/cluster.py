"""Cluster scaling: 1, 2 and 3 `voxcast worker` processes (sandbox carrier, high sandbox speed)
sharing one PostgreSQL, each run on a fresh scratch database with the same sandbox campaign.

Prints per worker count: calls/s (call records written per wall second, task stored to last
record), claim latency p99 (the workers' `voxcast_claim_seconds` histograms from /metrics),
database statements, transactions and rows written per call, and the ratio of calls/s to the
one-worker run of the same invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
from sqlalchemy import update
from tests.integration.dialing import insert_task

from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates
from voxcast.storage.db import async_url
from voxcast.storage.models import Account

ROOT = Path(__file__).resolve().parent.parent
#: callees of the untimed campaign run first
WARM_UP = 50
ADMIN_URL = os.environ.get("VOXCAST_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """One worker's /metrics as {sample name with labels: value}."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def claim_buckets(samples: list[dict[str, float]]) -> list[tuple[float, float]]:
    """The workers' voxcast_claim_seconds buckets summed: [(upper bound, cumulative count)]."""
    total: dict[float, float] = {}
    for found in samples:
        for name, value in found.items():
            if name.startswith("voxcast_claim_seconds_bucket"):
                le = name.split('le="', 1)[1].split('"', 1)[0]
                bound = float("inf") if le == "+Inf" else float(le)
                total[bound] = total.get(bound, 0.0) + value
    return sorted(total.items())


def quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """As Prometheus's histogram_quantile: linear within the bucket that holds rank q."""
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower


Samples = list[dict[str, float]]


def delta(after: Samples, before: Samples) -> Samples:
    return [
        {k: v - b.get(k, 0.0) for k, v in a.items()} for a, b in zip(after, before, strict=True)
    ]


def start_worker(
    data: Path, i: int, url: str, port: int, epoch: float, env: dict[str, str], speed: float
) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """One `voxcast worker` process on `url`, its output in data/worker<i>.log. The workers
    share `data` and so its prompt cache: the task's prompt is rendered once, not per worker
    (a real node renders each text once too; bench/tts.py times that first render)."""
    data.mkdir(exist_ok=True)
    log = (data / f"worker{i}.log").open("wb")
    command = [sys.executable, "-m", "voxcast", "--data-dir", str(data), "worker"]
    command += ["--database-url", url, "--sandbox-speed", repr(speed)]
    command += ["--sandbox-epoch", repr(epoch), "--metrics-port", str(port)]
    command += ["--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


async def server_counters(admin: asyncpg.Connection, name: str) -> tuple[int, int]:
    """(transactions, rows written) PostgreSQL counted for database `name`."""
    row = await admin.fetchrow(
        "SELECT xact_commit + xact_rollback AS xacts, "
        "tup_inserted + tup_updated + tup_deleted AS rows FROM pg_stat_database WHERE datname = $1",
        name,
    )
    assert row is not None
    return int(row["xacts"]), int(row["rows"])


async def one_run(
    admin: asyncpg.Connection, base: str, workers: int, calls: int, args: argparse.Namespace
) -> dict[str, float]:
    name = f"voxcast_cluster_{os.getpid()}_{workers}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + "/" + name
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            key = generate_key()
            epoch = time.time()
            settings = Settings()
            settings.database_url = url
            settings.data_dir = Path(tmp)
            settings.secret_key = key
            settings.sandbox_speed = args.speed
            clock = ScaledClock(args.speed, anchor=datetime.fromtimestamp(epoch, UTC))
            rt = await open_runtime(settings, clock)
            async with rt.sessions.begin() as session:
                creds = await accounts.create_account(
                    session, rt.secrets, clock.now(), name="cluster", balance=Decimal(10**7)
                )
                await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
                await session.execute(
                    update(Account)
                    .where(Account.id == creds.account_id)
                    .values(max_cps=1_000_000, max_channels=args.channels)
                )
            env = dict(os.environ)
            env.update(
                PYTHONPATH=str(ROOT / "src"),
                VOXCAST_SECRET_KEY=key,
                VOXCAST_LOG_FORMAT="text",
            )
            ports = [free_port() for _ in range(workers)]
            started = [
                start_worker(Path(tmp) / "data", i, url, port, epoch, env, args.speed)
                for i, port in enumerate(ports)
            ]
            procs.extend(proc for proc, _log in started)
            logs = [log for _proc, log in started]
            before = [await _ready(port, proc) for port, proc in zip(ports, procs, strict=True)]
            # warm up: the prompt rendered and cached, every worker's connections opened
            warm = [f"86131{i:07d}{i % 10}" for i in range(WARM_UP)]
            warm_id = await insert_task(
                rt, creds.account_id, creds.app_id, warm, max_ringing_time=30
            )
            poll = await asyncpg.connect(url)
            await _records(poll, warm_id, WARM_UP, time.perf_counter() + args.timeout)
            before = [scrape(port) for port in ports]
            # the dialers' idle ticks (every 10 ms at 2000x): statements a second with no work
            idle_s = 2.0
            await asyncio.sleep(idle_s)
            idle = [scrape(port) for port in ports]
            idle_used = delta(idle, before)
            idle_statements = sum(d.get("voxcast_db_query_seconds_count", 0.0) for d in idle_used)
            idle_ticks = sum(d.get("voxcast_dialer_ticks_total", 0.0) for d in idle_used)
            idle_rate = idle_statements / idle_s
            before = idle
            xacts0, rows0 = await server_counters(admin, name)
            numbers = [f"86130{i:07d}{i % 10}" for i in range(calls)]
            t0 = time.perf_counter()
            task_id = await insert_task(
                rt, creds.account_id, creds.app_id, numbers, max_ringing_time=30
            )
            await rt.close()
            done, polls = await _records(poll, task_id, calls, t0 + args.timeout)
            wall = time.perf_counter() - t0
            await poll.close()
            after = [scrape(port) for port in ports]
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
            for log in logs:
                log.close()
            if done < calls:  # say why, from the workers' own words
                for i in range(workers):
                    lines = (Path(tmp) / "data" / f"worker{i}.log").read_text().splitlines()
                    print(f"  worker {i} of {workers}, last log lines:", *lines[-8:], sep="\n    ")
            # backends flush their statistics as they exit; give the last ones a moment
            await asyncio.sleep(1.5)
            xacts1, rows1 = await server_counters(admin, name)
            used = delta(after, before)
            statements = sum(d.get("voxcast_db_query_seconds_count", 0.0) for d in used)
            ticks = sum(d.get("voxcast_dialer_ticks_total", 0.0) for d in used)
            # the poll's own transactions (one a poll, plus connect) are not the workers'
            xacts = xacts1 - xacts0 - polls
            rows = rows1 - rows0 - calls - 1  # minus the task and callee rows the bench wrote
            claims = claim_buckets(used)
            return {
                "workers": workers,
                "done": done,
                "wall": wall,
                "rate": done / wall,
                "claims": claims[-1][1] if claims else 0,
                "p50": quantile(0.5, claims),
                "p99": quantile(0.99, claims),
                "statements": statements / max(done, 1),
                "xacts": xacts / max(done, 1),
                "rows": rows / max(done, 1),
                "round_trips": (statements + 2 * xacts) / max(done, 1),
                "idle_rate": idle_rate,
                "idle_per_tick": idle_statements / max(idle_ticks, 1),
                "ticks": ticks / max(done, 1),
            }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _records(
    poll: asyncpg.Connection, task_id: int, calls: int, deadline: float
) -> tuple[int, int]:
    """Waits until `calls` records of the task are written, or the deadline: (records, polls)."""
    polls, done = 0, 0
    while time.perf_counter() < deadline:
        sql = "SELECT count(*) FROM call_records WHERE task_id = $1"
        done = int(await poll.fetchval(sql, task_id))
        polls += 1
        if done >= calls:
            break
        await asyncio.sleep(0.1)
    return done, polls


async def _ready(port: int, proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """Waits (bounded) for a worker's /metrics to answer, and returns it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a worker exited with {proc.returncode} before it was ready")
        try:
            return scrape(port)
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"worker on metrics port {port} not ready in 60 s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,3", help="worker counts, comma-separated")
    parser.add_argument("--calls", type=int, default=int(os.environ.get("BENCH_CALLS", "3000")))
    parser.add_argument("--speed", type=float, default=2000.0, help="--sandbox-speed")
    parser.add_argument("--channels", type=int, default=500, help="the account's channels")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run at most")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    base = async_url(ADMIN_URL).replace("+asyncpg", "")
    admin = await asyncpg.connect(base)
    try:
        results = [await one_run(admin, base, n, args.calls, args) for n in counts]
    finally:
        await admin.close()
    one = next((r for r in results if r["workers"] == 1), results[0])
    for r in results:
        print(
            f"cluster: {r['workers']:.0f} worker(s): {r['rate']:,.0f} calls/s "
            f"({r['done']:.0f}/{args.calls} in {r['wall']:.1f} s), ratio to 1 worker "
            f"{r['rate'] / one['rate']:.2f}; claim p50 {r['p50'] * 1000:.1f} ms, "
            f"p99 {r['p99'] * 1000:.1f} ms ({r['claims']:.0f} claims); per call "
            f"{r['statements']:.1f} statements, {r['xacts']:.2f} transactions, "
            f"{r['rows']:.1f} rows written, ~{r['round_trips']:.1f} round trips "
            f"(statements + BEGIN/COMMIT), {r['ticks']:.2f} dialer ticks; idle, the workers' "
            f"ticks sent {r['idle_rate']:,.0f} statements/s, {r['idle_per_tick']:.1f} a tick"
        )
    print(
        f"  (sandbox speed {args.speed:g}x, {args.channels} channels on one account, "
        f"PostgreSQL; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
