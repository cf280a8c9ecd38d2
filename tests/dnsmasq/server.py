"""A real DNS server for tests: Debian's dnsmasq on 127.0.0.1 and a free port, no config file,
serving only the records given on its command line."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence

from tests import ports
from tests.sipp.runner import HOST

DNSMASQ = "/usr/sbin/dnsmasq"
START_TIMEOUT_S = 5.0


def _answers(port: int) -> bool:
    """Whether a DNS server answers on `port` (a query for the root's SOA, any answer)."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x00" + (6).to_bytes(2) + b"\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(query, (HOST, port))
            return s.recv(512)[:2] == query[:2]
        except OSError:
            return False


def _free_port() -> int:
    """A port free for UDP and TCP (DNS answers on both)."""
    return ports.free_port(both=True)


@contextlib.contextmanager
def dnsmasq(records: Sequence[str]) -> Iterator[tuple[str, int]]:
    """Run dnsmasq with `records` (its options, e.g. "--srv-host=...") while the block runs;
    yields its (address, port)."""
    for _ in range(5):
        port = _free_port()
        process = subprocess.Popen(
            [
                DNSMASQ,
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--keep-in-foreground",
                f"--port={port}",
                f"--listen-address={HOST}",
                "--bind-interfaces",
                "--user=root",
                "--pid-file=",
                *records,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            if _started(process, port):
                yield HOST, port
                return
        finally:
            process.terminate()
            process.wait(timeout=5)
    raise RuntimeError("dnsmasq did not start on a free port in 5 tries")


def _started(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether dnsmasq answers; False when it lost a race for the port (try another)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(port):
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            if "Address already in use" in err:
                return False
            raise RuntimeError(f"dnsmasq exited: {err}")
        if time.monotonic() > deadline:
            raise RuntimeError("dnsmasq did not answer")
        time.sleep(0.05)
    return True
