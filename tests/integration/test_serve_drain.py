"""`voxcast serve` drained by SIGUSR1 (a rolling upgrade of a single-process node): its dialer,
inline or in serve's worker process, takes no new call and lets the one in progress end and be
recorded, the API answers meanwhile, and serve exits 0 leaving no process behind; without a
dialer it stops at once. Real processes, real signals, read from /proc and the SQLite file."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import SQLITE_ONLY
from tests.integration.server import Cli
from tests.integration.test_serve_shutdown import descendants, still_running
from tests.integration.test_serve_worker import _serve, _wait, _workers
from voxcast.client import VoxcastClient

#: sandbox time 5 times the wall clock: the callee below rings 2 s and talks about 6 s
SPEED = "5"
#: about 14 s of speech at 14 characters a second, played twice
LONG_TEXT = (
    "Hello, this is a reminder about your appointment with the dentist next Tuesday. "
    "Please bring your insurance card and arrive ten minutes early. Thank you, goodbye."
)
#: rings 10 s (sandbox), answers and listens to the end (docs/sandbox.md)
RINGS_THEN_LISTENS = "8613000000009"


def _account(db_url: str, tmp_path: Path) -> tuple[Cli, dict[str, object]]:
    cli = Cli.fresh(db_url, tmp_path / "var")
    # the account and its rates are the setting, not the subject: made in this process
    created = cli.create_account(in_process=True)
    rates = tmp_path / "rates.csv"
    rates.write_text(",0.02\n")
    cli.invoke("admin", "rates", "import", str(rates), "--account-id", str(created["accountId"]))
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    return cli, created


@contextlib.contextmanager
def _database(db_url: str) -> Iterator[sqlite3.Connection]:
    path = db_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def _callees(db_url: str, task_id: int) -> list[tuple[int, int, str | None]]:
    """(state, attempts, lease owner) of each callee of the task."""
    with _database(db_url) as conn:
        rows = conn.execute(
            "SELECT state, attempts, lease_owner FROM callees WHERE task_id = ?", (task_id,)
        ).fetchall()
    return [(int(state), int(attempts), owner) for state, attempts, owner in rows]


def _records(db_url: str, task_id: int) -> list[tuple[str, str | None, int]]:
    """(sipCode, answer time, talk seconds) of each call record of the task."""
    with _database(db_url) as conn:
        rows = conn.execute(
            "SELECT sip_code, answer_time, call_duration FROM call_records WHERE task_id = ?",
            (task_id,),
        ).fetchall()
    return [(str(code), answered, int(talk)) for code, answered, talk in rows]


def _send(client: VoxcastClient, app_id: object, name: str, number: str, loops: int) -> int:
    sent = client.send_group_call(
        appId=str(app_id),
        taskName=name,
        source=3,
        text=LONG_TEXT,
        lan="EN",
        loopCount=loops,
        maxCalls=120,
        maxRingingTime=30,
        numberInfoList=[{"calleeNumber": number}],
    )
    assert sent.code == "0", sent
    return int(sent.data)


@SQLITE_ONLY
@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", ["inline", "process"])
def test_sigusr1_drains_serve_its_call_recorded_then_exit_0(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    cli, created = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", mode, "--sandbox-speed", SPEED) as (proc, base, log):
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as client:
            first = _send(client, created["appId"], "under way", RINGS_THEN_LISTENS, loops=2)
            # the call placed (claimed, dialing) and the processes it needs running
            assert _wait(lambda: [s for s, *_ in _callees(db_url, first)] == [1], 90), (
                _callees(db_url, first),
                log.read_text(errors="replace"),
            )
            time.sleep(0.5)  # past the claim's commit: the call's own task runs (it rings 2 s)
            seen = descendants(proc.pid)
            if mode == "process":
                assert len(_workers(proc.pid)) == 1, seen
            proc.send_signal(signal.SIGUSR1)
            assert _wait(lambda: "draining: no new calls" in log.read_text(errors="replace"), 30)
            # drained while the call was under way
            assert "stopping once 1 in progress end" in log.read_text(errors="replace")
            # the API still answers, and stores what it is given for other nodes to dial
            later = _send(client, created["appId"], "after the drain", "8613000000000", loops=1)
            ready = httpx.get(f"{base}/readyz", timeout=10)
            proc.send_signal(signal.SIGUSR1)  # a second one changes nothing
            seen |= descendants(proc.pid)
            code = proc.wait(timeout=120)
        text = log.read_text(errors="replace")
        assert code == 0, text
        assert (ready.status_code, ready.json()["failed"].get("node")) == (503, "draining")
        # the call in progress ended as the callee chose, answered, and was recorded by serve
        [(sip_code, answered, talk)] = _records(db_url, first)
        assert (sip_code, answered is not None, talk > 0) == ("200", True, True), text
        assert [(s, a) for s, a, _ in _callees(db_url, first)] == [(2, 1)]
        # the later task is stored and waits for another node: never claimed nor dialed here
        assert _callees(db_url, later) == [(0, 0, None)]
        assert _records(db_url, later) == []
        assert _wait(lambda: not still_running(seen), 10), still_running(seen)
        assert "Traceback" not in text, text
        assert "serve stops" not in text, text  # the worker's exit was not taken as a loss


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_sigusr1_stops_serve_without_a_dialer_at_once(db_url: str, tmp_path: Path) -> None:
    cli, _ = _account(db_url, tmp_path)
    with _serve(cli, "--dialer", "none") as (proc, _base, log):
        seen = descendants(proc.pid)
        started = time.monotonic()
        proc.send_signal(signal.SIGUSR1)
        code = proc.wait(timeout=60)
        took = time.monotonic() - started
        text = log.read_text(errors="replace")
        assert code == 0, text
        assert took < 15, took  # nothing to wait for: a graceful stop of the API alone
        assert _wait(lambda: not still_running(seen), 10), still_running(seen)
        assert "Traceback" not in text, text


@SQLITE_ONLY
@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", ["inline", "process"])
def test_sigterm_during_a_drain_stops_serve_at_once(db_url: str, tmp_path: Path, mode: str) -> None:
    cli, created = _account(db_url, tmp_path)
    # the wall clock's pace: the call rings 10 s and talks about 55 s, a drain would wait it out
    with _serve(cli, "--dialer", mode) as (proc, base, log):
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as client:
            task = _send(client, created["appId"], "cut", RINGS_THEN_LISTENS, loops=4)
            assert _wait(lambda: [s for s, *_ in _callees(db_url, task)] == [1], 90), log.read_text(
                errors="replace"
            )
        seen = descendants(proc.pid)
        proc.send_signal(signal.SIGUSR1)
        assert _wait(lambda: "draining: no new calls" in log.read_text(errors="replace"), 30)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=90)
        took = time.monotonic() - started
        text = log.read_text(errors="replace")
        # ended as SIGTERM ends it: calls get their 10 s of grace, not the drain's whole wait
        assert code == -signal.SIGTERM, text
        assert took < 40, (took, text)
        assert _wait(lambda: not still_running(seen), 10), still_running(seen)
        assert "Traceback" not in text, text
