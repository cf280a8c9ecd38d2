"""Runs the real `voxcast` command for end-to-end tests: admin commands, and `serve` on a free
loopback port until the test ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from voxcast.security import generate_key

VOXCAST = str(Path(sys.executable).parent / "voxcast")


@dataclass
class Cli:
    """The voxcast command bound to one database and data directory."""

    database_url: str
    data_dir: Path
    secret_key: str

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
        return env

    def run(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [VOXCAST, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"voxcast {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
        return proc

    def create_account(self, name: str = "acme", balance: str = "100") -> dict[str, object]:
        out = self.run("admin", "create-account", "--name", name, "--balance", balance, "--json")
        created: dict[str, object] = json.loads(out.stdout)
        return created


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(cli: Cli, *args: str) -> Iterator[str]:
    """`voxcast serve` on a free port; yields the base URL once /healthz answers."""
    port = free_port()
    log = cli.data_dir / f"serve-{port}.log"
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [VOXCAST, "serve", "--port", str(port), "--log-level", "warning", *args],
            env=cli.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"voxcast serve did not start: {log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
