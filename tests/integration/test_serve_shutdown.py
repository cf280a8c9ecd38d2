"""`voxcast serve` stopped by SIGTERM or SIGINT after it rendered prompts leaves no process of
its own behind: the render pool's workers, its fork server and multiprocessing's resource
tracker end with it (they used to be left running, orphaned, when uvicorn re-raised the signal
before the background was closed). Real processes, read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import SQLITE_ONLY
from tests.integration.server import VOXCAST, Cli, _wait_healthy, free_port
from voxcast.client import VoxcastClient


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rsplit(")", 1)[1].split()  # after "pid (comm)"
    return fields[0], fields[19]


def descendants(pid: int) -> dict[int, tuple[str, str]]:
    """Every process below `pid`: its command line and start time (to tell a reused pid)."""
    found: dict[int, tuple[str, str]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for thread in os.listdir(f"/proc/{parent}/task"):
                children = Path(f"/proc/{parent}/task/{thread}/children").read_text().split()
                for child in map(int, children):
                    stat = _stat(child)
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                    if stat is not None:
                        found[child] = (cmdline.decode(errors="replace"), stat[1])
                    todo.append(child)
    return found


def still_running(procs: dict[int, tuple[str, str]]) -> dict[int, str]:
    """Those of `procs` alive now (a zombie has ended; a reused pid is another process)."""
    alive = {}
    for pid, (cmdline, started) in procs.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == started and stat[0] != "Z":
            alive[pid] = cmdline
    return alive


@SQLITE_ONLY
@pytest.mark.timeout(120)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stopped_by_a_signal_leaves_no_render_process_behind(
    db_url: str, tmp_path: Path, stop: signal.Signals
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    created = cli.create_account(in_process=True)  # the setting; the server is the subject
    rates = tmp_path / "rates.csv"
    rates.write_text(",0.02\n")
    cli.invoke("admin", "rates", "import", str(rates), "--account-id", str(created["accountId"]))
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = cli.data_dir / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                VOXCAST,
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--sandbox-speed",
                "40",
            ],
            env=cli.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seen: dict[int, tuple[str, str]] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait_healthy(base, proc, log, last=True)
        with VoxcastClient(base, str(created["apiKey"]), str(created["apiSecret"])) as client:
            sent = client.send_group_call(
                appId=created["appId"],
                taskName="render then stop",
                source=3,
                text="Hello, this is a reminder about your appointment.",
                lan="EN",
                loopCount=1,
                maxCalls=60,
                maxRingingTime=20,
                numberInfoList=[{"calleeNumber": "8613000000000"}],
            )
            assert sent.code == "0", sent
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the prompt rendered, the task under way
                seen = descendants(proc.pid)
                workers = [c for c, _ in seen.values() if "multiprocessing.forkserver" in c]
                if len(workers) >= 2:  # the fork server and a render worker forked from it
                    break
                time.sleep(0.1)
        tracker = [c for c, _ in seen.values() if "multiprocessing.resource_tracker" in c]
        forked = [c for c, _ in seen.values() if "multiprocessing.forkserver" in c]
        assert (len(tracker), len(forked) >= 2) == (1, True), seen
        proc.send_signal(stop)
        assert proc.wait(timeout=60) == -stop  # ended as the signal would end it
        deadline = time.monotonic() + 10
        while still_running(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert still_running(seen) == {}
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in still_running(seen):  # a failed run must not leave them either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
