"""Bridged-call relay: 100 calls bridged at once, each side sending 20 ms RTP packets, relayed
by voxcast's media streams (`MediaStream.relay_to`, what a transfer to an agent uses) against
a plain asyncio UDP relay of the same streams in the same run. Reports the relay's added
latency p99 and its CPU per call, and the ratios to the plain relay.

The relay runs in its own process (its CPU time is measured there); the callers and agents
that send and timestamp the packets run in this one. Bounded: 10 s of traffic per relay.
Usage: .venv/bin/python bench/bridge.py [--calls 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

HOST = "127.0.0.1"
FRAME_S = 0.02
PAYLOAD = 160


# -- the relays (in the child process) ---------------------------------------------------------


class PlainLeg(asyncio.DatagramProtocol):
    """The baseline: forward every datagram to the other leg's far end, nothing else."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.peer: PlainLeg | None = None
        self.remote: tuple[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        other = self.peer
        if other is not None and other.transport is not None and other.remote is not None:
            other.transport.sendto(data, other.remote)


async def _serve(kind: str, calls: int, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    legs: list[tuple[int, int]] = []
    keep: list[Any] = []
    if kind == "voxcast":
        from voxcast.telephony.rtp.media import MediaEngine

        engine = MediaEngine(HOST)
        streams = []
        for _ in range(calls):
            callee, agent = await engine.open_stream(), await engine.open_stream()
            streams.append((callee, agent))
            legs.append((callee.port, agent.port))
        pipe.send(legs)
        far_ends = pipe.recv()  # where each leg's far end listens
        for (callee, agent), (callee_far, agent_far) in zip(streams, far_ends, strict=True):
            callee.start((HOST, callee_far), 0, 101)
            agent.start((HOST, agent_far), 0, 101)
            callee.relay_to, agent.relay_to = agent, callee
        keep.append(streams)
    else:
        pairs = []
        for _ in range(calls):
            _, a = await loop.create_datagram_endpoint(PlainLeg, local_addr=(HOST, 0))
            _, b = await loop.create_datagram_endpoint(PlainLeg, local_addr=(HOST, 0))
            a.peer, b.peer = b, a
            pairs.append((a, b))
            legs.append(
                (
                    a.transport.get_extra_info("sockname")[1],
                    b.transport.get_extra_info("sockname")[1],
                )
            )
        pipe.send(legs)
        far_ends = pipe.recv()
        for (a, b), (a_far, b_far) in zip(pairs, far_ends, strict=True):
            a.remote, b.remote = (HOST, a_far), (HOST, b_far)
        keep.append(pairs)
    cpu = time.process_time()
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    pipe.send(time.process_time() - cpu)


def _port(leg: PlainLeg | FarEnd) -> int:
    assert leg.transport is not None
    return int(leg.transport.get_extra_info("sockname")[1])


def relay_process(kind: str, calls: int, pipe: Connection) -> None:
    asyncio.run(_serve(kind, calls, pipe))


# -- the callers and agents (in this process) ------------------------------------------------


class FarEnd(asyncio.DatagramProtocol):
    """One side of one call: sends RTP stamped with the send time, records arrival delays."""

    def __init__(self, delays: list[float]) -> None:
        self.delays = delays
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) >= 20:
            (sent,) = struct.unpack_from("!d", data, 12)
            self.delays.append(time.perf_counter() - sent)


def packet(seq: int) -> bytes:
    header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0x1234)
    return header + struct.pack("!d", time.perf_counter()) + b"\xff" * (PAYLOAD - 8)


async def drive(kind: str, calls: int, seconds: float) -> tuple[float, float, int, int]:
    """(latency p99 in ms, relay CPU ms per call-second, packets delivered, packets sent)."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=relay_process, args=(kind, calls, child))
    proc.start()
    loop = asyncio.get_running_loop()
    legs = await loop.run_in_executor(None, parent.recv)
    delays: list[float] = []
    ends: list[tuple[FarEnd, FarEnd]] = []
    far_ports = []
    for _ in legs:
        _, caller = await loop.create_datagram_endpoint(
            lambda: FarEnd(delays), local_addr=(HOST, 0)
        )
        _, agent = await loop.create_datagram_endpoint(lambda: FarEnd(delays), local_addr=(HOST, 0))
        ends.append((caller, agent))
        far_ports.append(
            (
                caller.transport.get_extra_info("sockname")[1],  # type: ignore[union-attr]
                agent.transport.get_extra_info("sockname")[1],  # type: ignore[union-attr]
            )
        )
    parent.send(far_ports)
    await loop.run_in_executor(None, parent.recv)  # "ready"
    start = time.perf_counter()
    seq = 0
    while time.perf_counter() - start < seconds:
        tick = start + seq * FRAME_S
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        for (caller, agent), (callee_port, agent_port) in zip(ends, legs, strict=True):
            assert caller.transport is not None and agent.transport is not None
            caller.transport.sendto(packet(seq), (HOST, callee_port))
            agent.transport.sendto(packet(seq), (HOST, agent_port))
        seq += 1
    await asyncio.sleep(0.2)
    parent.send("stop")
    cpu = await loop.run_in_executor(None, parent.recv)
    proc.join(5)
    for caller, agent in ends:
        caller.transport.close()  # type: ignore[union-attr]
        agent.transport.close()  # type: ignore[union-attr]
    ordered = sorted(delays)
    p99 = ordered[int(0.99 * (len(ordered) - 1))] * 1000 if ordered else float("nan")
    return p99, cpu * 1000 / (calls * seconds), len(delays), seq * 2 * len(ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    plain = asyncio.run(drive("plain", args.calls, args.seconds))
    ours = asyncio.run(drive("voxcast", args.calls, args.seconds))
    print(
        f"bridge: {args.calls} calls relayed both ways for {args.seconds:.0f} s "
        f"({ours[3]:,} packets sent): voxcast p99 {ours[0]:.2f} ms, "
        f"{ours[1]:.3f} ms CPU per call-second, {ours[2]:,} delivered; plain asyncio relay "
        f"p99 {plain[0]:.2f} ms, {plain[1]:.3f} ms CPU per call-second, {plain[2]:,} delivered; "
        f"ratio latency {ours[0] / plain[0]:.2f}, CPU {ours[1] / plain[1]:.2f}"
    )


if __name__ == "__main__":
    main()
