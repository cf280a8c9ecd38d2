"""Task intake: one group-call send with 100,000 numbers through the API, against a plain
`sqlite3` executemany of the same callee rows into the same table (and, when
VOXCAST_TEST_POSTGRES is set, asyncpg `copy_records_to_table` into a table like it on
PostgreSQL), in one run.

Prints the request time, the baseline time, their ratio (target: within 2x on each database,
issue 12) and the peak Python memory the request allocated.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from voxcast.api.app import create_app
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain.signing import sign
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates
from voxcast.storage.db import async_url

N = int(os.environ.get("BENCH_NUMBERS", "100000"))


def numbers() -> list[dict[str, str]]:
    return [{"calleeNumber": f"8613{i:09d}", "text1": f"name{i % 1000}"} for i in range(N)]


def body(app_id: str, name: str) -> bytes:
    return json.dumps(
        {
            "appId": app_id,
            "taskName": name,
            "source": 3,
            "text": "Your bill is due, ${text1}.",
            "lan": "EN",
            "loopCount": 1,
            "maxCalls": 60,
            "numberInfoList": numbers(),
        }
    ).encode()


async def through_api(url: str, tmp: str) -> tuple[float, float]:
    settings = Settings()
    settings.database_url = url
    settings.data_dir = Path(tmp)
    settings.secret_key = generate_key()
    clock = SystemClock()
    rt = await open_runtime(settings, clock)
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, clock.now(), name="bench", balance=Decimal(1000)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
    app = create_app(rt)

    payloads = [body(creds.app_id, f"intake-{i}-{time.time_ns()}") for i in range(2)]

    async def send(payload: bytes) -> httpx.Response:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Api-Key": creds.api_key,
            "Timestamp": ts,
            "Sign": sign(creds.api_key, creds.api_secret, ts),
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client:
            return await client.post("/v3/voice/group/call/send", content=payload, headers=headers)

    t0 = time.perf_counter()
    resp = await send(payloads[0])
    elapsed = time.perf_counter() - t0
    # a second, identical request under tracemalloc (which slows it) for the memory peak
    tracemalloc.start()
    await send(payloads[1])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    answer = resp.json()
    assert answer.get("code") == "0", answer
    await rt.close()
    return elapsed, peak / 2**20


def sqlite_baseline(path: str) -> float:
    """The same rows (task_id, seq, callee, info JSON, state, attempts, frozen rate) in the
    same table."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    rows = [
        (1, i, n["calleeNumber"], json.dumps({"text1": n["text1"]}), 0, 0, 0.02)
        for i, n in enumerate(numbers(), start=1)
    ]
    t0 = time.perf_counter()
    with con:
        con.executemany(
            "INSERT INTO callees (task_id, seq, callee, info, state, attempts, rate) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


async def pg_baseline(url: str, temporary: bool) -> float:
    """asyncpg's COPY of the same rows into a table made like `callees` (its indexes and
    constraints): a plain table, WAL-logged like the one voxcast writes (the ratio's
    baseline), or a TEMP one, which skips the WAL (shown for reference)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    rows = [
        (1, i, n["calleeNumber"], json.dumps({"text1": n["text1"]}), 0, 0, Decimal("0.02"))
        for i, n in enumerate(numbers(), start=1)
    ]
    table = "callees_temp" if temporary else "callees_plain"
    kind = "TEMP TABLE" if temporary else "TABLE"
    await conn.execute(f"CREATE {kind} {table} (LIKE callees INCLUDING ALL)")
    t0 = time.perf_counter()
    await conn.copy_records_to_table(
        table,
        records=rows,
        columns=["task_id", "seq", "callee", "info", "state", "attempts", "rate"],
    )
    elapsed = time.perf_counter() - t0
    await conn.close()
    return elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/intake.db"
        api_s, peak_mb = await through_api(f"sqlite:///{db}", tmp)
        base_s = sqlite_baseline(db)  # same database file, same table and indexes
        print(
            f"intake (SQLite): {N:,} numbers in one send: voxcast {api_s:.2f} s, sqlite3 "
            f"executemany {base_s:.2f} s, ratio {api_s / base_s:.2f}x (target <= 2x); "
            f"request peak Python memory {peak_mb:.0f} MiB"
        )
        pg = os.environ.get("VOXCAST_TEST_POSTGRES")
        if pg:
            await postgres(pg, tmp)


async def postgres(admin_url: str, tmp: str) -> None:
    """The same on a scratch PostgreSQL database (created and dropped here)."""
    import asyncpg

    plain = async_url(admin_url).replace("+asyncpg", "")
    name = f"voxcast_bench_{os.getpid()}"
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = plain.rsplit("/", 1)[0] + "/" + name
    try:
        api_pg, peak_pg = await through_api(url, tmp)
        base_pg = await pg_baseline(url, temporary=False)
        temp_pg = await pg_baseline(url, temporary=True)
        print(
            f"intake (PostgreSQL): voxcast {api_pg:.2f} s, asyncpg copy_records_to_table "
            f"{base_pg:.2f} s, ratio {api_pg / base_pg:.2f}x (target <= 2x); into a TEMP "
            f"table (no WAL) {temp_pg:.2f} s, {api_pg / temp_pg:.2f}x; "
            f"request peak {peak_pg:.0f} MiB"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
