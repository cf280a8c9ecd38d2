"""RTP alone, no SIP: N streams each playing G.711 to a UDP sink for HOLD seconds, paced in
this process (`MediaEngine`) and then over worker processes (`MediaWorkers`), same run. Prints
the pacer's lateness p50/p99 over the second half of the hold, frames dropped, and the CPU
of this process plus its workers. Isolates the media path from the SIP far end (SIPp), which
fails first on a loaded machine.

Usage: PYTHONPATH=src .venv/bin/python bench/rtp_workers.py [--streams 4000] [--hold 4]
       [--workers 0,2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import time
from pathlib import Path

from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMU
from voxcast.telephony.rtp.workers import MediaWorkers

HOST = "127.0.0.1"


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(streams: int, hold_s: float, workers: int) -> str:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((HOST, 0))  # never read: the kernel drops what overflows, as SIPp's port does
    engine = MediaWorkers(HOST, workers=workers) if workers else MediaEngine(HOST)
    if isinstance(engine, MediaWorkers):
        await engine.start()
    opened = [await engine.open_stream() for _ in range(streams)]
    audio = b"\xff" * FRAME_SAMPLES * int(50 * hold_s)
    pids = [s.pid for s in engine.shards] if isinstance(engine, MediaWorkers) else []
    for stream in opened:
        stream.start(sink.getsockname(), PCMU, None)
    cpu = time.process_time() + sum(cpu_s(p) for p in pids)
    wall = time.monotonic()
    plays = [stream.play(audio) for stream in opened]
    await asyncio.sleep(hold_s / 2)
    engine.jitter.reset()
    await asyncio.wait_for(asyncio.gather(*plays), hold_s * 4 + 30)
    load = (time.process_time() + sum(cpu_s(p) for p in pids) - cpu) / (time.monotonic() - wall)
    for stream in opened:
        await stream.sync()
    sent = sum(s.sent for s in opened)
    dropped = sum(s.dropped for s in opened)
    p50, p99 = engine.jitter.percentile(50) * 1000, engine.jitter.percentile(99) * 1000
    for stream in opened:
        stream.close()
    await engine.close()
    sink.close()
    where = f"{workers} workers" if workers else "one process"
    return (
        f"rtp {streams} streams, {where}: pacer lateness p50 {p50:.2f} ms p99 {p99:.2f} ms, "
        f"{sent} sent, {dropped} frames dropped, {load:.0%} of one core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4000)
    parser.add_argument("--hold", type=float, default=4.0)
    parser.add_argument("--workers", default="0,2")
    args = parser.parse_args()
    for workers in (int(n) for n in args.workers.split(",")):
        print(asyncio.run(run(args.streams, args.hold, workers)), flush=True)


if __name__ == "__main__":
    main()
