"""Ports for test peers: each pytest-xdist worker takes them from its own block below the
kernel's ephemeral range, so parallel workers and the sockets the code under test binds to
port 0 never race for the same port between a probe and a peer's bind."""

from __future__ import annotations

import itertools
import os
import socket

HOST = "127.0.0.1"
#: ports 20000-31999, one block of this size per worker (12 workers at most)
BASE, BLOCK, WORKERS = 20000, 1000, 12


def _block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0) % WORKERS
    low = BASE + index * BLOCK
    return range(low, low + BLOCK)


#: a worker hands its ports out in turn, so a port a finished test's peer held (perhaps
#: still in TIME_WAIT) comes round again only after the whole block
_turn = itertools.cycle(_block())


def bindable(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port(kind: int = socket.SOCK_DGRAM, *, both: bool = False) -> int:
    """A port of 127.0.0.1 nobody holds now, for `kind` (or for UDP and TCP when `both`)."""
    kinds = (socket.SOCK_DGRAM, socket.SOCK_STREAM) if both else (kind,)
    for _ in range(BLOCK):
        port = next(_turn)
        if all(bindable(port, k) for k in kinds):
            return port
    raise RuntimeError(f"no free port in {_block()}")


def free_ports(count: int, kind: int = socket.SOCK_DGRAM) -> list[int]:
    """`count` distinct free ports."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(kind)
        if port not in ports:
            ports.append(port)
    return ports


def free_even_run(length: int = 4) -> int:
    """An even UDP port p with p..p+length-1 free (SIPp's RTP echo binds p and p+2); the
    whole run is taken from the turn, so no later probe hands out a port inside it."""
    for _ in range(BLOCK):
        base = next(_turn)
        if base % 2 or base + length > _block().stop:
            continue
        run = [base] + [next(_turn) for _ in range(length - 1)]
        if run == list(range(base, base + length)) and all(
            bindable(p, socket.SOCK_DGRAM) for p in run
        ):
            return base
    raise RuntimeError("no free even UDP port run")
