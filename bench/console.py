"""Console pages with 100,000 call records in the account: server time of every page (p50/p95
of BENCH_CONSOLE_REPEAT requests through the real app), on SQLite then PostgreSQL.

The account holds BENCH_CONSOLE_RECORDS call records (100,000) and, in proportion, their tasks
and callees, voice files, agents, do-not-call entries, scripts and audit rows, inserted with
the storage layer's bulk path (COPY on PostgreSQL, then VACUUM ANALYZE as autovacuum would
run it). Each page is requested with a signed-in session through httpx's ASGI transport; its
time is printed with the ratio to the text-to-speech form measured in the same run (the
baseline: the same app, transport and session check, no account data; `/healthz` is printed
too) and the target (< 100 ms a page, issue 16).
The records CSV export of every record is driven as a server would drive it (its chunks
counted, not kept) under tracemalloc: its peak Python memory is printed against one records
page's. PostgreSQL: a scratch database on VOXCAST_BENCH_POSTGRES
(postgresql://postgres@127.0.0.1:5432/test), dropped after.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select

from voxcast.api.app import create_app
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.console import auth, mount
from voxcast.console.settings import ConsoleSettings
from voxcast.domain.enums import CalleeState, TaskKind, TaskStatus
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, console_users, rates, scripts
from voxcast.services.console_users import Role
from voxcast.storage.console import AuditEntry
from voxcast.storage.db import async_url
from voxcast.storage.models import (
    Agent,
    AgentGroup,
    Callee,
    CallRecord,
    DncNumber,
    Task,
    VoiceFile,
)
from voxcast.storage.scripts import ScriptRow

N = int(os.environ.get("BENCH_CONSOLE_RECORDS", "100000"))
REPEAT = int(os.environ.get("BENCH_CONSOLE_REPEAT", "20"))
PG_ADMIN = os.environ.get("VOXCAST_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_MS = 100.0
#: the ratios' baseline: a page of the same app with the same session check and a template,
#: reading no account data (the text-to-speech form)
BASELINE = "/console/tts"
#: the rest of the account, in proportion to its records
CALLS_PER_TASK = 1000
FILES = max(1, N // 500)
GROUPS = 10
AGENTS = 200
DNC = N // 10
SCRIPTS = max(1, N // 5000)
AUDIT = N // 100


async def bulk(rt: Runtime, model: Any, rows: list[dict[str, Any]]) -> None:
    """The rows as the storage layer bulk-inserts a task's numbers (tasks.insert_numbers):
    COPY on PostgreSQL, one executemany on SQLite, straight through the driver, each value
    bound by its column's own type first."""
    if not rows:
        return
    table = model.__table__
    columns = list(rows[0])
    async with rt.sessions.begin() as session:
        conn = await session.connection()
        dialect = conn.dialect
        binds = [table.c[c].type.bind_processor(dialect) for c in columns]
        values = [
            tuple(v if bind is None else bind(v) for v, bind in zip(r.values(), binds, strict=True))
            for r in rows
        ]
        if dialect.name == "postgresql":
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                table.name, records=values, columns=columns
            )
        else:
            marks = ", ".join("?" * len(columns))
            await conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values
            )


async def seed(rt: Runtime) -> dict[str, Any]:
    """The account and everything in it; returns the session cookie and ids pages name."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="bench", balance=Decimal(1000)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
        user = await console_users.create_user(
            session,
            username="bench-owner",
            password="bench password 1",
            role=Role.OWNER,
            account_id=creds.account_id,
            now=now,
        )
        token = await console_users.open_session(
            session, user, now, ConsoleSettings.from_env().lifetime
        )
    account_id, app_id = creds.account_id, creds.app_id
    span = timedelta(days=30)
    n_tasks = max(1, -(-N // CALLS_PER_TASK))
    task_rows = []
    for t in range(n_tasks):
        created = now - span + span * t / n_tasks
        running = t >= n_tasks - 3
        task_rows.append(
            {
                "account_id": account_id,
                "app_id": app_id,
                "kind": TaskKind.GROUP,
                "task_name": f"bench task {t}",
                "status": TaskStatus.CALLING if running else TaskStatus.FINISHED,
                "status_reason": "",
                "source": 3,
                "text": "Hello, this is a reminder about your appointment tomorrow.",
                "lan": "EN",
                "loop_count": 1,
                "max_calls": 60,
                "max_ringing_time": 30,
                "delay_play": 0,
                "delay_hangup": 0,
                "num_cnt": CALLS_PER_TASK,
                "params": {},
                "created_at": created,
                "updated_at": created,
                "dnc_skipped": 0,
            }
        )
    await bulk(rt, Task, task_rows)
    async with rt.readonly() as session:
        task_ids = list(
            (
                await session.scalars(
                    select(Task.id).where(Task.account_id == account_id).order_by(Task.id)
                )
            ).all()
        )
    callees: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for i in range(N):
        task_id = task_ids[i // CALLS_PER_TASK]
        answered = i % 2 == 0
        submit = now - span * (N - i) / N
        number = f"8613{i:09d}"
        voice_id = f"bench{i:027d}"
        callees.append(
            {
                "task_id": task_id,
                "seq": i % CALLS_PER_TASK + 1,
                "callee": number,
                "info": {"text1": f"name{i % 1000}"},
                "state": CalleeState.DONE,
                "voice_id": voice_id,
                "attempts": 1,
                "success": answered,
                "sip_code": 200 if answered else 486,
                "rate": Decimal("0.02"),
            }
        )
        records.append(
            {
                "voice_id": voice_id,
                "account_id": account_id,
                "app_id": app_id,
                "task_id": task_id,
                "type": 1,
                "callee": number,
                "display_num": "8613800000000",
                "code": "",
                "submit_time": submit,
                "call_time": submit,
                "answer_time": submit + timedelta(seconds=5) if answered else None,
                "hangup_time": submit + timedelta(seconds=35 if answered else 20),
                "call_duration": 30 if answered else 0,
                "ring_duration": 5,
                "charged_duration": 60 if answered else 0,
                "bill_period": "60+60",
                "rate": Decimal("0.02"),
                "base_cost": Decimal("0.01"),
                "cost": Decimal("0.02") if answered else Decimal(0),
                "termination_code": "200" if answered else "486",
                "termination_reason": "normal" if answered else "busy",
                "sip_code": "200" if answered else "486",
                "feedback_value": str(i % 10) if answered else "-1",
                "out_recall_count": 0,
                "attempt": 1,
            }
        )
    await bulk(rt, Callee, callees)
    await bulk(rt, CallRecord, records)
    del callees, records
    await bulk(
        rt,
        VoiceFile,
        [
            {
                "file_id": f"benchfile{f:06d}",
                "account_id": account_id,
                "file_name": f"prompt {f}.wav",
                "size": 16044,
                "content": b"\0" * 64,
                "created_at": now - timedelta(minutes=f),
                "duration_ms": 1000,
            }
            for f in range(FILES)
        ],
    )
    await bulk(
        rt,
        AgentGroup,
        [
            {
                "account_id": account_id,
                "app_id": app_id,
                "group_name": f"group {g}",
                "callin_strategy": 4,
                "settings": {},
                "created_at": now,
            }
            for g in range(GROUPS)
        ],
    )
    async with rt.readonly() as session:
        group_ids = list(
            (
                await session.scalars(
                    select(AgentGroup.id).where(AgentGroup.account_id == account_id)
                )
            ).all()
        )
    sealed = rt.secrets.seal("agent-password-0001")
    await bulk(
        rt,
        Agent,
        [
            {
                "account_id": account_id,
                "app_id": app_id,
                "group_id": group_ids[a % GROUPS],
                "name": f"{app_id}_{a + 1:03d}",
                "password_enc": sealed,
                "enable": True,
                "priority": 1,
                "calls_today": 0,
                "status": 1 + a % 5,
                "status_changed_at": now,
                "created_at": now,
            }
            for a in range(AGENTS)
        ],
    )
    await bulk(
        rt,
        DncNumber,
        [
            {
                "account_id": account_id,
                "app_id": "",
                "number": f"+8614{d:09d}",
                "source": "import",
                "created_at": now - timedelta(seconds=d),
            }
            for d in range(DNC)
        ],
    )
    document = scripts.example_document()
    await bulk(
        rt,
        ScriptRow,
        [
            {
                "account_id": account_id,
                "name": f"script {s}",
                "revision": 1,
                "document": document,
                "created_at": now,
                "updated_at": now,
            }
            for s in range(SCRIPTS)
        ],
    )
    await bulk(
        rt,
        AuditEntry,
        [
            {
                "at": now - timedelta(minutes=e),
                "user_id": user.id,
                "username": "bench-owner",
                "account_id": account_id,
                "action": "push url set",
                "detail": f"{app_id} voice: https://example.com/{e}",
                "address": "127.0.0.1",
            }
            for e in range(AUDIT)
        ],
    )
    async with rt.readonly() as session:
        script_id = await session.scalar(
            select(ScriptRow.id).where(ScriptRow.account_id == account_id).limit(1)
        )
    return {
        "cookie": f"{auth.SESSION_COOKIE}={token}",
        "task": task_ids[len(task_ids) // 2],
        "script": script_id,
        "day": (now - timedelta(days=10)).date().isoformat(),
        "number": f"8613{N // 2:09d}",
    }


def pages(ids: dict[str, Any]) -> list[tuple[str, str]]:
    deep = max(1, N // 25 - 10)
    day = ids["day"]
    return [
        ("dashboard", "/console/dashboard"),
        ("tasks", "/console/tasks"),
        ("tasks, last page", f"/console/tasks?page={max(1, -(-N // CALLS_PER_TASK) // 25)}"),
        ("task page", f"/console/tasks/{ids['task']}"),
        ("task progress", f"/console/tasks/{ids['task']}/progress"),
        ("new task", "/console/tasks/new"),
        ("records", "/console/records"),
        ("records, page 2", "/console/records?page=2"),
        (f"records, page {deep}", f"/console/records?page={deep}"),
        ("records of a task", f"/console/records?task={ids['task']}"),
        ("records, answered", "/console/records?outcome=answered"),
        ("records, one day", f"/console/records?from={day}&to={day}"),
        ("records, a number", f"/console/records?number={ids['number']}"),
        ("records, number part", "/console/records?number=000123"),
        ("files", "/console/files"),
        ("tts", "/console/tts"),
        ("agents", "/console/agents"),
        ("scripts", "/console/scripts"),
        ("a script", f"/console/scripts/{ids['script']}"),
        ("dnc", "/console/dnc"),
        ("dnc, a number", "/console/dnc?number=%2B8614000000042"),
        ("developer", "/console/developer"),
        ("audit", "/console/audit"),
    ]


async def timed(client: httpx.AsyncClient, path: str, cookie: str) -> list[float]:
    """REPEAT requests' times in ms, after one untimed (caches, first query plans)."""
    times = []
    for i in range(REPEAT + 1):
        t0 = time.perf_counter()
        resp = await client.get(path, headers={"cookie": cookie})
        elapsed = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"{path}: {resp.status_code} {resp.text[:300]}")
        if i:
            times.append(elapsed)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


async def drive(app: Any, path: str, cookie: str) -> tuple[int, int]:
    """GET `path` as a server would: the body's chunks are counted and dropped (httpx's ASGI
    transport keeps the whole body, which would be the memory measured). (status, bytes)"""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    status, size = 0, 0
    asked = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        # the request once, then nothing until the answer is sent: a streaming answer listens
        # for the client's disconnect all along
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    return status, size


async def peak_of(app: Any, path: str, cookie: str) -> tuple[float, int, float]:
    """(peak Python memory in MiB, body bytes, seconds) of one request under tracemalloc."""
    tracemalloc.start()
    t0 = time.perf_counter()
    status, size = await drive(app, path, cookie)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if status != 200:
        raise RuntimeError(f"{path}: {status}")
    return peak / 2**20, size, elapsed


async def run(url: str, label: str, tmp: str) -> None:
    settings = Settings()
    settings.database_url = url
    settings.data_dir = Path(tmp) / label
    settings.data_dir.mkdir()
    settings.secret_key = generate_key()
    rt = await open_runtime(settings, SystemClock())
    try:
        t0 = time.perf_counter()
        ids = await seed(rt)
        if label == "PostgreSQL":
            # what autovacuum does to a table soon after 100,000 rows arrive: planner
            # statistics and the visibility map index-only scans need
            conn = await asyncpg.connect(url)
            await conn.execute("VACUUM ANALYZE")
            await conn.close()
        print(
            f"console ({label}): {N:,} call records, {-(-N // CALLS_PER_TASK)} tasks, "
            f"{FILES} files, {AGENTS} agents, {DNC:,} DNC entries, {AUDIT:,} audit rows "
            f"stored in {time.perf_counter() - t0:.1f} s"
        )
        app = create_app(rt)
        mount(app)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
        ) as client:
            bare = statistics.median(await timed(client, "/healthz", ids["cookie"]))
            base = statistics.median(await timed(client, BASELINE, ids["cookie"]))
            print(
                f"  baselines: /healthz p50 {bare:.2f} ms; {BASELINE} (signed in, no account "
                f"data) p50 {base:.2f} ms, the ratios' denominator"
            )
            slow = []
            for name, path in pages(ids):
                times = await timed(client, path, ids["cookie"])
                p50 = statistics.median(times)
                mark = "ok" if p95(times) < TARGET_MS else "SLOW"
                if mark == "SLOW":
                    slow.append(name)
                print(
                    f"  {name:24} p50 {p50:7.1f} ms  p95 {p95(times):7.1f} ms  "
                    f"ratio {p50 / base:6.1f}x  (target < {TARGET_MS:.0f} ms) {mark}"
                )
        page_mb, _, _ = await peak_of(app, "/console/records", ids["cookie"])
        csv_mb, size, seconds = await peak_of(app, "/console/records.csv", ids["cookie"])
        print(
            f"  records.csv: {N:,} records, {size / 2**20:.1f} MiB in {seconds:.1f} s; peak "
            f"Python memory {csv_mb:.1f} MiB, one records page {page_mb:.1f} MiB, ratio "
            f"{csv_mb / page_mb:.1f}x (streamed: a few pages' worth, not the whole export)"
        )
        print(f"  pages over {TARGET_MS:.0f} ms (p95): {', '.join(slow) or 'none'}")
    finally:
        await rt.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite:///{tmp}/console.db", "SQLite", tmp)
        plain = async_url(PG_ADMIN).replace("+asyncpg", "")
        name = f"voxcast_bench_console_{os.getpid()}"
        admin = await asyncpg.connect(plain)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await run(plain.rsplit("/", 1)[0] + "/" + name, "PostgreSQL", tmp)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
