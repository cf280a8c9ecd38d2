"""API throughput: signed `GET /v3/getBalance` against a real `voxcast serve` (SQLite, then
PostgreSQL) and against a bare Starlette app doing the same MD5 Sign check, in one run.

Both servers run under uvicorn on 127.0.0.1 in their own process and are loaded by the same
`wrk` (Debian package, scripts/setup-system.sh): 20 connections, 10 s each (BENCH_API_SECONDS).
Prints requests/s, p50 and p99 latency and the ratio voxcast / bare (target: at least 0.3 on
both databases, p99 under 20 ms). PostgreSQL: a scratch database is created on the server of
VOXCAST_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test) and dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.domain.signing import sign
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts
from voxcast.storage.db import async_url

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "10"))
CONNECTIONS = 20
API_KEY = "benchkey0000000000000001"
API_SECRET = "benchsecret00000000000000000001"
PG_ADMIN = os.environ.get("VOXCAST_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start in 60 s")


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


def load(port: int) -> tuple[float, float, float, int]:
    """wrk against the port: requests/s, p50 ms, p99 ms, non-2xx or socket errors."""
    ts = str(int(time.time()))
    # the Sign is valid for VOXCAST_SIGN_SKEW_SECONDS (300 s): one per run is enough
    headers = {"Api-Key": API_KEY, "Timestamp": ts, "Sign": sign(API_KEY, API_SECRET, ts)}
    url = f"http://127.0.0.1:{port}/v3/getBalance"
    first = httpx.get(url, headers=headers, timeout=10).json()
    if first.get("status") != "0" or first.get("balance") != "100.000000":
        raise RuntimeError(f"unexpected answer {first}")
    cmd = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
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


async def seed(url: str, tmp: str, key: str) -> None:
    settings = Settings()
    settings.database_url = url
    settings.data_dir = Path(tmp)
    settings.secret_key = key
    rt = await open_runtime(settings, SystemClock())
    try:
        async with rt.sessions.begin() as session:
            await accounts.create_account(
                session,
                rt.secrets,
                rt.clock.now(),
                name="bench",
                balance=Decimal(100),
                api_key=API_KEY,
                api_secret=API_SECRET,
            )
    finally:
        await rt.close()


def run_voxcast(url: str, tmp: str) -> tuple[float, float, float, int]:
    key = generate_key()
    asyncio.run(seed(url, tmp, key))
    port = free_port()
    env = dict(os.environ)
    env.update(
        VOXCAST_SECRET_KEY=key,
        VOXCAST_DATA_DIR=tmp,
        PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
    )
    cmd = [sys.executable, "-m", "voxcast", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--database-url", url, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp)
    try:
        wait_ready(port, proc)
        return load(port)
    finally:
        stop(proc)


def report(name: str, got: tuple[float, float, float, int], bare: tuple[float, ...]) -> None:
    rps, p50, p99, errors = got
    ratio = rps / bare[0]
    print(
        f"api ({name}): getBalance, {CONNECTIONS} connections, {SECONDS} s: voxcast "
        f"{rps:,.0f} req/s p50 {p50:.2f} ms p99 {p99:.2f} ms ({errors} errors); bare Starlette "
        f"{bare[0]:,.0f} req/s p50 {bare[1]:.2f} ms p99 {bare[2]:.2f} ms; ratio {ratio:.3f} "
        f"(target >= 0.3, p99 < 20 ms)"
    )


def main() -> int:
    if shutil.which("wrk") is None:
        print("api: wrk is not installed (scripts/setup-system.sh)")
        return 1
    bare = run_bare()
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", run_voxcast(f"sqlite:///{tmp}/api.db", tmp), bare)
    asyncio.run(_pg(bare))
    return 0


async def _pg(bare: tuple[float, float, float, int]) -> None:
    import asyncpg

    plain = async_url(PG_ADMIN).replace("+asyncpg", "")
    name = f"voxcast_bench_api_{os.getpid()}"
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = plain.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as tmp:
            got = await asyncio.to_thread(run_voxcast, url, tmp)
        report("PostgreSQL", got, bare)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(main())
