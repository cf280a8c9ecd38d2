"""Real `voxcast worker` processes on a test's PostgreSQL database: their environment, a
runtime for the test on the same sandbox clock, starting them, and waiting with their log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import generate_key

VOXCAST = str(Path(sys.executable).parent / "voxcast")


@dataclass
class Workers:
    """What the workers share with the test: their environment and the sandbox speed."""

    env: dict[str, str]
    speed: float

    def start(self, log: Path, *, level: str = "warning", **env: str) -> subprocess.Popen[bytes]:
        """A worker writing its log to `log` (appended), `env` added to the shared one."""
        with log.open("ab") as out:
            return subprocess.Popen(
                [VOXCAST, "worker", "--sandbox-speed", str(self.speed), "--log-level", level],
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )


async def workers_on(
    url: str, tmp_path: Path, speed: float, *, worker_url: str | None = None, **env: str
) -> tuple[Workers, Runtime]:
    """Workers on the database `url` (or `worker_url`, e.g. through a proxy, for them only)
    with one secret key, data dir and sandbox epoch, `env` added (VOXCAST_* settings), and the
    test's runtime on the same database and clock."""
    epoch = time.time()
    key = generate_key()
    environ = dict(os.environ)
    environ.update(
        {
            "VOXCAST_DATABASE_URL": worker_url or url,
            "VOXCAST_DATA_DIR": str(tmp_path / "var"),
            "VOXCAST_SECRET_KEY": key,
            "VOXCAST_SANDBOX_EPOCH": str(epoch),
            **env,
        }
    )
    settings = Settings()
    settings.database_url = url
    settings.secret_key = key
    settings.data_dir = tmp_path / "var"
    clock = ScaledClock(speed, anchor=datetime.fromtimestamp(epoch, UTC))
    return Workers(environ, speed), await open_runtime(settings, clock)


def read_log(log: Path) -> str:
    return log.read_text() if log.exists() else ""


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], log: Path, seconds: float
) -> None:
    """Poll `check` (the database or a log) until true; fail after `seconds` with the log."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what}:\n" + read_log(log)[-3000:]
        await asyncio.sleep(0.1)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to those still running, then wait for each (killed after 20 s)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
