"""Runs the real `voxcast` command for end-to-end tests: admin commands, `serve` on a free
loopback port until the test ends, and `running_server` (a served account, ready to call).
`Cli.invoke` runs a command in this process instead, for tests about what a command accepts
and answers rather than about the process (each process start costs about a second of CPU)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests import ports
from voxcast.security import generate_key
from voxcast.services.accounts import Credentials

VOXCAST = str(Path(sys.executable).parent / "voxcast")


@dataclass
class Cli:
    """The voxcast command bound to one database and data directory."""

    database_url: str
    data_dir: Path
    secret_key: str
    #: more environment variables for every command (VOXCAST_TRUST_X_FORWARDED_FOR, ...)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fresh(cls, database_url: str, data_dir: Path) -> Cli:
        return cls(database_url, data_dir, generate_key())

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "VOXCAST_DATABASE_URL": self.database_url,
                "VOXCAST_DATA_DIR": str(self.data_dir),
                "VOXCAST_SECRET_KEY": self.secret_key,
            }
        )
        env.update(self.extra_env)
        return env

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [VOXCAST, *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"voxcast {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
        return proc

    def invoke(
        self, *args: str, check: bool = True, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """The command run in this process (the same entry point as the `voxcast` script) with
        this CLI's environment, answered as `run` would: exit status, stdout, stderr. It runs
        in a thread of its own, as the command runs an event loop (an async test that must
        keep serving meanwhile calls it through `asyncio.to_thread`)."""
        from voxcast.cli.main import app

        env = {key: value for key, value in self.env().items() if os.environ.get(key) != value}
        with ThreadPoolExecutor(1) as thread:
            result = thread.submit(
                CliRunner().invoke, app, list(args), input=stdin, env=env
            ).result()
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            # a crash: its traceback, as a process would have printed it
            stderr += "".join(traceback.format_exception(result.exception))
        proc = subprocess.CompletedProcess(
            ["voxcast", *args], result.exit_code, result.stdout, stderr
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"voxcast {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
        return proc

    def create_account(
        self, name: str = "acme", balance: str = "100", *, in_process: bool = False
    ) -> dict[str, object]:
        """`admin create-account --json`: a process of its own, or `in_process` (`invoke`)."""
        command = self.invoke if in_process else self.run
        out = command("admin", "create-account", "--name", name, "--balance", balance, "--json")
        created: dict[str, object] = json.loads(out.stdout)
        return created


def free_port() -> int:
    return ports.free_port(socket.SOCK_STREAM)


#: how many free ports `serving` tries: another process may take a port between the probe and
#: the bind, which would otherwise fail a test for no fault of voxcast
PORT_ATTEMPTS = 5


@contextmanager
def serving(cli: Cli, *args: str) -> Iterator[str]:
    """`voxcast serve` on a free port; yields the base URL once /healthz answers."""
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        log = cli.data_dir / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [VOXCAST, "serve", "--port", str(port), "--log-level", "warning", *args],
                env=cli.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            if not _wait_healthy(base, proc, log, last=attempt == PORT_ATTEMPTS - 1):
                continue
            yield base
            return
        finally:
            _stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, *, last: bool) -> bool:
    """True once /healthz answers; False when the port was taken meanwhile (try another)."""
    deadline = time.monotonic() + 60
    # one client for every poll: a client per poll (httpx.get) loads the CA bundle each time,
    # about 25 ms of CPU taken from the server starting meanwhile
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                # another session's server may hold the port (blocks are per xdist worker, not
                # per machine): only our own process's answer counts
                if client.get(f"{base}/healthz").status_code == 200 and _listens(base, proc):
                    return True
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                text = log.read_text(errors="replace")
                if "address already in use" in text.lower() and not last:
                    log.unlink()
                    return False
                held = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
                raise AssertionError(f"voxcast serve did not start: {text}\nlistening:\n{held}")
            if time.monotonic() > deadline:
                text = log.read_text(errors="replace")
                raise AssertionError(f"voxcast serve did not start: {text}")
            time.sleep(0.1)


def _listens(base: str, proc: subprocess.Popen[bytes]) -> bool:
    """Whether the socket listening at `base` belongs to `proc` or one of its children."""
    if proc.poll() is not None:
        return False
    port = base.rsplit(":", 1)[1]
    found = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True
    ).stdout
    owners = {int(pid) for pid in re.findall(r"pid=(\d+)", found)}
    return bool(owners & _family(proc.pid))


def _family(pid: int) -> set[int]:
    """`pid` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    family, todo = set(), [pid]
    while todo:
        current = todo.pop()
        family.add(current)
        todo += children.get(current, [])
    return family


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@contextmanager
def running_server(
    db_url: str,
    data_dir: Path,
    *serve_args: str,
    balance: str = "100",
    rate: str | None = "0.02",
) -> Iterator[tuple[str, Credentials]]:
    """A fresh account (created with `voxcast admin`) and `voxcast serve` on its database.

    Yields `(base_url, creds)`. With `rate` (USD a minute) the account prices every number, as
    the conftest tenants do, so tasks can be sent; extra `serve_args` go to `voxcast serve`
    (e.g. "--sandbox-speed", "40").
    """
    cli = Cli.fresh(db_url, data_dir)
    # the account and rates are the server's setting, not what is tested: made in process
    created = cli.create_account(balance=balance, in_process=True)
    creds = Credentials(
        account_id=int(str(created["accountId"])),
        api_key=str(created["apiKey"]),
        api_secret=str(created["apiSecret"]),
        app_id=str(created["appId"]),
    )
    if rate is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        rates = data_dir / "running-server-rates.csv"
        rates.write_text(f",{rate}\n")
        cli.invoke("admin", "rates", "import", str(rates), "--account-id", str(creds.account_id))
    with serving(cli, *serve_args) as base:
        yield base, creds
