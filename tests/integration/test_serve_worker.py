"""`voxcast serve` runs its dialer and push sender in a worker process of its own: the worker's
charges reach the API's key cache at once, and neither process outlives the other, whichever is
killed, with real signals. Real processes, read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import SQLITE_ONLY
from tests.integration.server import VOXCAST, Cli, _wait_healthy, free_port
from tests.integration.test_serve_shutdown import descendants, still_running
from voxcast.client import VoxcastClient


def _account(db_url: str, tmp_path: Path) -> tuple[Cli, dict[str, object]]:
    cli = Cli.fresh(db_url, tmp_path / "var")
    # a key cache that never expires by itself: only an invalidation can refresh the balance
    cli.extra_env["VOXCAST_AUTH_CACHE_SECONDS"] = "3600"
    created = cli.create_account(balance="50")
    rates = tmp_path / "rates.csv"
    rates.write_text(",0.02\n")
    cli.run("admin", "rates", "import", str(rates), "--account-id", str(created["accountId"]))
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    return cli, created


@contextlib.contextmanager
def _serve(cli: Cli, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    log = cli.data_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [VOXCAST, "serve", "--port", str(port), "--log-level", "info", *args],
            env=cli.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seen: dict[int, tuple[str, str]] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_healthy(base, proc, log, last=True)
        yield proc, base, log
    finally:
        seen = descendants(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in still_running(seen):  # a failed run must not leave them behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _workers(serve_pid: int) -> dict[int, tuple[str, str]]:
    return {
        pid: info
        for pid, info in descendants(serve_pid).items()
        if " worker " in info[0] and "--serve-link" in info[0]
    }


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.timeout(180)
def test_a_call_charged_by_the_worker_process_shows_in_the_next_balance(
    db_url: str, tmp_path: Path
) -> None:
    cli, created = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", "process", "--sandbox-speed", "40") as (proc, base, log):
        assert _wait(lambda: len(_workers(proc.pid)) == 1, 30), descendants(proc.pid)
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as client:
            assert client.get_balance().raw["balance"] == "50.000000"  # now cached
            sent = client.send_group_call(
                appId=created["appId"],
                taskName="charged in the worker",
                source=3,
                text="Hello, this is a reminder about your appointment.",
                lan="EN",
                loopCount=1,
                maxCalls=60,
                maxRingingTime=20,
                # answered, listens to the end: one minute at 0.02
                numberInfoList=[{"calleeNumber": "8613000000000"}],
            )
            assert sent.code == "0", sent
            seen: list[str] = []

            def charged() -> bool:
                seen.append(str(client.get_balance().raw["balance"]))
                return seen[-1] != "50.000000"

            assert _wait(charged, 90), (seen[-3:], log.read_text(errors="replace"))
        assert seen[-1] == "49.980000"
        workers = _workers(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == -signal.SIGTERM
        assert _wait(lambda: not still_running(workers), 10)
        assert "Traceback" not in log.read_text(errors="replace")


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_the_worker_process_stops_when_serve_is_killed(db_url: str, tmp_path: Path) -> None:
    cli, _ = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", "process") as (proc, _base, _log):
        assert _wait(lambda: len(_workers(proc.pid)) == 1, 30), descendants(proc.pid)
        workers = _workers(proc.pid)
        proc.kill()  # no chance to stop the worker itself
        proc.wait(timeout=30)
        assert _wait(lambda: not still_running(workers), 60), still_running(workers)


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_serve_stops_with_status_1_when_its_worker_process_dies(
    db_url: str, tmp_path: Path
) -> None:
    cli, _ = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", "process") as (proc, _base, log):
        assert _wait(lambda: len(_workers(proc.pid)) == 1, 30), descendants(proc.pid)
        (worker,) = _workers(proc.pid)
        os.kill(worker, signal.SIGKILL)
        assert proc.wait(timeout=60) == 1
        assert "worker process" in log.read_text(errors="replace")


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_serve_with_dialer_none_serves_the_api_alone(db_url: str, tmp_path: Path) -> None:
    cli, created = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", "none") as (proc, base, _log):
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as client:
            assert client.get_balance().raw["balance"] == "50.000000"
        time.sleep(1)  # a worker would have been started before /healthz answered
        assert _workers(proc.pid) == {}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM
