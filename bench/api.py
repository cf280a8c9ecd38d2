"""API throughput: signed `GET /v3/getBalance` against a real `voxcast serve` (SQLite, then
PostgreSQL) and against a bare Starlette app doing the same MD5 Sign check, in one run.

Both servers run under uvicorn on 127.0.0.1 in their own process and are loaded by the same
`wrk` (Debian package, scripts/setup-system.sh): 20 connections, 10 s each (BENCH_API_SECONDS).
Prints requests/s, p50 and p99 latency and the ratio voxcast / bare (target: at least 0.3 on
both databases, p99 under 20 ms). PostgreSQL: a scratch database is created on the server of
VOXCAST_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test) and dropped.

Then, on each database, the dialer inside the same `voxcast serve` (sandbox at 2000x): a task
of BENCH_API_CALLS numbers (4,000) dialed with the API idle, and another while wrk loads the
API as above; prints both calls/s and the ratio loaded / idle (target: at least 0.8).

BENCH_API_BEFORE=<a `src` folder of another checkout> measures that version's `serve` too, in
the same run and against the same baseline, for before/after figures.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain.signing import sign
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates
from voxcast.storage.db import async_url
from voxcast.storage.models import Account, App, CallRecord

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.dialing import insert_task

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "10"))
CONNECTIONS = 20
API_KEY = "benchkey0000000000000001"
API_SECRET = "benchsecret00000000000000000001"
CALLS = int(os.environ.get("BENCH_API_CALLS", "4000"))
SPEED = 2000.0
CHANNELS = 500
PG_ADMIN = os.environ.get("VOXCAST_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
#: the checkouts whose `serve` is measured, with the label their lines carry
SOURCES = [("", ROOT / "src")]
if os.environ.get("BENCH_API_BEFORE"):
    SOURCES.insert(0, (", before", Path(os.environ["BENCH_API_BEFORE"]).resolve()))


def bare_app() -> object:
    """The baseline: Starlette answering getBalance after the same Sign check, no database."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    secrets = {API_KEY: API_SECRET}

    async def balance(request: Request) -> JSONResponse:
        key = request.headers.get("api-key", "")
        ts = request.headers.get("timestamp", "")
        given = request.headers.get("sign", "")
        secret = secrets.get(key)
        expected = hashlib.md5(f"{key}{secret}{ts}".encode()).hexdigest()
        if secret is None or not hmac.compare_digest(expected.encode(), given.lower().encode()):
            return JSONResponse({"status": "-1", "reason": "auth"})
        if abs(time.time() - int(ts)) > 300:
            return JSONResponse({"status": "-16", "reason": "timestamp"})
        return JSONResponse(
            {
                "status": "0",
                "reason": "success",
                "balance": "100.000000",
                "gift": "0.000000",
                "credit": "0.000000",
            }
        )

    return Starlette(routes=[Route("/v3/getBalance", balance, methods=["GET"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180  # a loaded machine has taken over 60 s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start in 180 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unreadable latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_command(port: int, seconds: int) -> list[str]:
    """wrk loading signed getBalance on the port, after one request checked the answer."""
    ts = str(int(time.time()))
    # the Sign is valid for VOXCAST_SIGN_SKEW_SECONDS (300 s): one per run is enough
    headers = {"Api-Key": API_KEY, "Timestamp": ts, "Sign": sign(API_KEY, API_SECRET, ts)}
    url = f"http://127.0.0.1:{port}/v3/getBalance"
    first = httpx.get(url, headers=headers, timeout=10).json()
    if first.get("status") != "0" or "balance" not in first:
        raise RuntimeError(f"unexpected answer {first}")
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    return [*cmd, url]


def load(port: int) -> tuple[float, float, float, int]:
    """wrk against the port: requests/s, p50 ms, p99 ms, non-2xx or socket errors."""
    cmd = wrk_command(port, SECONDS)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> tuple[float, float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        m = re.search(pattern, out)
        if m:
            errors += sum(int(n) for n in re.findall(r"\d+", m.group(1)))
    return rps, p50, p99, errors


def run_bare() -> tuple[float, float, float, int]:
    port = free_port()
    code = (
        "import sys, uvicorn; sys.path.insert(0, sys.argv[1]); import bench.api as b; "
        "from starlette.routing import Route; app = b.bare_app(); "
        "app.router.routes.append(Route('/healthz', lambda r: __import__('starlette.responses',"
        " fromlist=['x']).PlainTextResponse('ok'))); "
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(port)], cwd=ROOT)
    try:
        wait_ready(port, proc)
        return load(port)
    finally:
        stop(proc)


def settings_for(url: str, tmp: str, key: str) -> Settings:
    settings = Settings()
    settings.database_url = url
    settings.data_dir = Path(tmp)
    settings.secret_key = key
    return settings


async def seed(url: str, tmp: str, key: str) -> None:
    rt = await open_runtime(settings_for(url, tmp, key), SystemClock())
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session,
                rt.secrets,
                rt.clock.now(),
                name="bench",
                balance=Decimal(100),
                api_key=API_KEY,
                api_secret=API_SECRET,
            )
            # for the dialer part: calls are charged, and neither pacing limit holds them
            await rates.set_rate(session, creds.account_id, "", Decimal("0.000001"))
            await session.execute(
                update(Account)
                .where(Account.id == creds.account_id)
                .values(max_cps=100_000, max_channels=CHANNELS)
            )
    finally:
        await rt.close()


def start_voxcast(
    url: str, tmp: str, key: str, src: Path, speed: float = 1.0
) -> tuple[subprocess.Popen[bytes], int]:
    """`voxcast serve` from `src` on a free port, its sandbox at `speed`, ready to answer."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        VOXCAST_SECRET_KEY=key,
        VOXCAST_DATA_DIR=tmp,
        PYTHONPATH=str(src) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    cmd = [sys.executable, "-m", "voxcast", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--database-url", url, "--log-level", "warning", "--sandbox-speed", str(speed)]
    if src == ROOT / "src":  # this checkout: the dialer in serve's worker process
        cmd += ["--dialer", "process"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp)
    try:
        wait_ready(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, port


Measured = tuple[tuple[float, float, float, int], tuple[float, float, tuple[float, ...]]]


def run_voxcast(url: str, tmp: str, src: Path = ROOT / "src") -> Measured:
    """The API under wrk, then the dialer idle and under the same load, in one `serve`."""
    key = generate_key()
    asyncio.run(seed(url, tmp, key))
    # the API alone as `make run` serves it (the dialer idle at its 0.2 s tick) ...
    proc, port = start_voxcast(url, tmp, key, src)
    try:
        api = load(port)
    finally:
        stop(proc)
    # ... and the dialer with the sandbox fast enough that calls are bounded by CPU, not time
    proc, port = start_voxcast(url, tmp, key, src, SPEED)
    try:
        dialer = asyncio.run(dialer_rates(url, tmp, key, port))
    finally:
        stop(proc)
    return api, dialer


async def campaign(rt: Runtime, numbers: list[str]) -> float:
    """Calls/s of one task dialed by the server's dialer: stored to its last call record."""
    async with rt.readonly() as session:
        account_id, app_id = (await session.execute(select(Account.id, App.app_id).join(App))).one()
    t0 = time.perf_counter()
    task_id = await insert_task(rt, account_id, app_id, numbers, max_ringing_time=30)
    deadline = t0 + 600
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        async with rt.readonly() as session:
            done = await session.scalar(
                select(func.count()).select_from(CallRecord).where(CallRecord.task_id == task_id)
            )
        if done == len(numbers):
            return len(numbers) / (time.perf_counter() - t0)
    raise RuntimeError(f"task {task_id}: {done} of {len(numbers)} calls in 600 s")


async def dialer_rates(
    url: str, tmp: str, key: str, port: int
) -> tuple[float, float, tuple[float, ...]]:
    """Calls/s idle, calls/s while wrk loads the API, and what wrk measured meanwhile."""
    rt = await open_runtime(settings_for(url, tmp, key), SystemClock(), run_migrations=False)
    try:
        # a realistic mix of outcomes, digits 0-9 in turn; a first small task renders the prompt
        await campaign(rt, [f"86131{i:07d}{i % 10}" for i in range(100)])
        idle = await campaign(rt, [f"86132{i:07d}{i % 10}" for i in range(CALLS)])
        wrk = await asyncio.create_subprocess_exec(
            *wrk_command(port, 600), stdout=asyncio.subprocess.PIPE
        )
        try:
            await asyncio.sleep(1)  # wrk's connections open and busy
            loaded = await campaign(rt, [f"86133{i:07d}{i % 10}" for i in range(CALLS)])
        finally:
            wrk.send_signal(signal.SIGINT)  # wrk stops and prints what it measured
            out, _ = await wrk.communicate()
        return idle, loaded, parse_wrk(out.decode())
    finally:
        await rt.close()


def report(name: str, got: Measured, bare: tuple[float, ...]) -> None:
    (rps, p50, p99, errors), (idle, loaded, during) = got
    ratio = rps / bare[0]
    print(
        f"api ({name}): getBalance, {CONNECTIONS} connections, {SECONDS} s: voxcast "
        f"{rps:,.0f} req/s p50 {p50:.2f} ms p99 {p99:.2f} ms ({errors} errors); bare Starlette "
        f"{bare[0]:,.0f} req/s p50 {bare[1]:.2f} ms p99 {bare[2]:.2f} ms; ratio {ratio:.3f} "
        f"(target >= 0.3, p99 < 20 ms)"
    )
    print(
        f"api ({name}): dialer in the same serve, {CALLS:,} sandbox calls at {SPEED:g}x: idle "
        f"{idle:,.0f} calls/s, API under wrk {loaded:,.0f} calls/s (API meanwhile "
        f"{during[0]:,.0f} req/s, p99 {during[2]:.2f} ms); ratio {loaded / idle:.3f} "
        f"(target >= 0.8)"
    )


def main() -> int:
    if shutil.which("wrk") is None:
        print("api: wrk is not installed (scripts/setup-system.sh)")
        return 1
    bare = run_bare()
    for label, src in SOURCES:
        with tempfile.TemporaryDirectory() as tmp:
            report(f"SQLite{label}", run_voxcast(f"sqlite:///{tmp}/api.db", tmp, src), bare)
        asyncio.run(_pg(bare, label, src))
    return 0


async def _pg(bare: tuple[float, float, float, int], label: str, src: Path) -> None:
    import asyncpg

    plain = async_url(PG_ADMIN).replace("+asyncpg", "")
    name = f"voxcast_bench_api_{os.getpid()}"
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = plain.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            got = await asyncio.to_thread(run_voxcast, url, tmp, src)
        report(f"PostgreSQL{label}", got, bare)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(main())
