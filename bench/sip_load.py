"""SIP load: voxcast's SIP carrier against SIPp as the far end, each figure a ratio to SIPp
driving the same SIPp far end in the same run.

1. Call set-up rate: N calls, each answered at once, one 20 ms packet played, then BYE.
   Baseline: SIPp's own UAC (`-sn uac`) placing N calls as fast as it can.
2. Concurrent calls: C calls held at once, each playing RTP for HOLD seconds; voxcast's pacer
   lateness (jitter) p99 must stay under 5 ms with no failed call. Baseline: SIPp's UAC holding
   the same C calls with RTP (`sipp_uac_rtp.xml`, playing the sip-tester package's pcap).

With `--media-workers 0,2` the concurrency part runs once per value: 0 is every call's RTP in
this process's one event loop, N>0 the RTP sharded over N media worker processes (SIP stays
here; `voxcast.telephony.rtp.workers`), so before and after come from the same run.

Bounded: every SIPp run has -m and -timeout; the whole bench takes about a minute.
Usage: .venv/bin/python bench/sip_load.py [--calls 2000] [--concurrent 1000] [--hold 6]
       [--media-workers 0] [--skip-setup]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from prometheus_client import REGISTRY

from voxcast.audio.playback import PromptAudio
from voxcast.cli.main import GC_THRESHOLDS
from voxcast.clock import SystemClock
from voxcast.ports import DialRequest, HungUp, Prompt
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sip.aio.carrier import SipCarrier, TrunkConfig

HOST = "127.0.0.1"
HERE = Path(__file__).parent
JITTER_TARGET_MS = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class FarEnd:
    """`sipp -sn uas`: answers every INVITE at once and waits for the BYE."""

    def __init__(self, calls: int, timeout_s: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="voxcast-bench-"))
        self.proc = subprocess.Popen(
            [
                "sipp", "-sn", "uas", "-i", HOST, "-p", str(self.port),
                "-mi", HOST, "-mp", str(free_port()),
                "-m", str(calls), "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
                "-max_socket", "5000", "-trace_stat", "-stf", str(self.dir / "stat.csv"),
            ],
            cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # until SIPp holds its port: an INVITE to a port nobody holds yet is refused at once
        for _ in range(250):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((HOST, self.port))
                except OSError:
                    break
            time.sleep(0.02)

    def finish(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def resent() -> Counter[str]:
    """SIP messages this process has sent again so far, by method (the transport's
    `voxcast_sip_retransmissions` counter): subtract two readings for a run's."""
    counts: Counter[str] = Counter()
    for metric in REGISTRY.collect():
        if metric.name == "voxcast_sip_retransmissions":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["message"]] = int(sample.value)
    return counts


def sipp_uac(scenario: str, port: int, calls: int, rate: int, limit: int, hold_ms: int) -> float:
    """SIPp placing `calls` calls at up to `rate` per second, `limit` at once; seconds taken.
    `scenario` is a built-in name (`uac`) or a file next to this script."""
    chosen = ["-sf", str(HERE / scenario)] if scenario.endswith(".xml") else ["-sn", scenario]
    workdir = tempfile.mkdtemp(prefix="voxcast-bench-uac-")
    started = time.monotonic()
    proc = subprocess.run(
        [
            "sipp", *chosen, f"{HOST}:{port}", "-i", HOST, "-p", str(free_port()),
            "-mi", HOST, "-mp", str(free_port()),
            "-m", str(calls), "-r", str(rate), "-l", str(limit), "-d", str(hold_ms),
            "-nostdin", "-timeout", "120s", "-timeout_error", "-max_socket", "5000",
        ],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    shutil.rmtree(workdir, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"SIPp {scenario} baseline failed (exit {proc.returncode})")
    return elapsed


async def voxcast_calls(
    port: int, calls: int, prompt_s: float, window: int, media: MediaEngine, prompts: PromptAudio
) -> tuple[float, int, MediaEngine]:
    """Place `calls` calls, at most `window` at once; (seconds, failed)."""
    carrier = SipCarrier(TrunkConfig("bench", HOST, port), SystemClock(), media, prompts)
    prompts.extra["bench"] = b"\x00\x00" * int(8000 * prompt_s)
    gate = asyncio.Semaphore(window)
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        async with gate:
            call = await carrier.dial(
                DialRequest(
                    callee=f"86130{i:08d}",
                    caller_id="1000",
                    prompt=Prompt("bench", prompt_s),
                    max_ringing_s=30,
                    max_talk_s=prompt_s + 30,
                )
            )
            async for event in call.events():
                if isinstance(event, HungUp) and (event.sip_code != 200 or event.by != "us"):
                    failed += 1
                    causes[f"{event.sip_code} by {event.by}: {event.reason}"] += 1

    causes: Counter[str] = Counter()
    before = resent()
    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed = time.monotonic() - started
    await carrier.close()
    if causes:
        print("  failed calls:", dict(causes.most_common(4)), file=sys.stderr)
    again = resent() - before
    print(f"  {calls} calls, SIP messages sent again: {dict(again) or 0}", file=sys.stderr)
    return elapsed, failed, media


async def setup_rate(calls: int) -> tuple[float, float, int]:
    far = FarEnd(calls, 120)
    media = MediaEngine(HOST)
    elapsed, failed, _ = await voxcast_calls(far.port, calls, 0.02, 400, media, PromptAudio(None))
    await media.close()
    far.finish()
    far = FarEnd(calls, 120)
    baseline = sipp_uac("uac", far.port, calls, 5000, 400, 0)
    far.finish()
    return calls / elapsed, calls / baseline, failed


def engine(workers: int) -> MediaEngine:
    return MediaWorkers(HOST, workers=workers) if workers else MediaEngine(HOST)


async def concurrent(
    calls: int, hold_s: float, workers: int, baseline: bool
) -> tuple[float, float, int, int, float, float]:
    far = FarEnd(calls, 120)
    media = engine(workers)
    if isinstance(media, MediaWorkers):
        await media.start()  # not in the measured ramp: a service starts them once
    prompts = PromptAudio(None)

    async def measure() -> None:
        # the window where every call is up: after the ramp, before the first ends
        while media.open_streams < calls:  # noqa: ASYNC110 - polling a counter, no event
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        media.jitter.reset()

    watcher = asyncio.ensure_future(measure())
    cpu, wall = time.process_time(), time.monotonic()
    _, failed, _ = await voxcast_calls(far.port, calls, hold_s, calls, media, prompts)
    load = (time.process_time() - cpu) / (time.monotonic() - wall)
    if isinstance(media, MediaWorkers):  # the workers' CPU too, read before they exit
        load += sum(_cpu_s(shard.pid) for shard in media.shards) / (time.monotonic() - wall)
    watcher.cancel()
    p99 = media.jitter.percentile(99) * 1000
    p50 = media.jitter.percentile(50) * 1000
    skipped = media.jitter.skipped
    await media.close()
    far.finish()
    baseline_ok = True
    if baseline:
        far = FarEnd(calls, 120)
        try:
            sipp_uac("sipp_uac_rtp.xml", far.port, calls, 1000, calls, int(hold_s * 1000))
        except SystemExit:
            baseline_ok = False
        far.finish()
    carried = calls if failed == 0 and p99 < JITTER_TARGET_MS else 0
    return p99, p50, failed, skipped, load, (carried / calls) if baseline_ok else float("nan")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=6.0)
    parser.add_argument(
        "--media-workers",
        default="0",
        help="comma-separated: 0 = RTP in this process, N = over N worker processes",
    )
    parser.add_argument("--skip-setup", action="store_true", help="only the concurrency part")
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # the collector as `voxcast worker` runs it
    if shutil.which("sipp") is None:
        raise SystemExit("sipp is missing: run scripts/setup-system.sh")
    any_failed = False
    if not args.skip_setup:
        ours, theirs, failed = asyncio.run(setup_rate(args.calls))
        any_failed |= failed > 0
        print(
            f"sip setup: voxcast {ours:,.0f} calls/s vs SIPp uac {theirs:,.0f} calls/s over "
            f"{args.calls} calls, {failed} failed: ratio {ours / theirs:.2f} "
            "(target >= 300 calls/s)"
        )
    choices = [int(n) for n in args.media_workers.split(",")]
    for i, workers in enumerate(choices):
        p99, p50, failed, skipped, load, ratio = asyncio.run(
            concurrent(args.concurrent, args.hold, workers, baseline=i == len(choices) - 1)
        )
        any_failed |= failed > 0 or not re.match(r"\d", f"{ratio}")
        where = f"over {workers} media workers" if workers else "in one process"
        print(
            f"sip concurrency ({where}): {args.concurrent} calls held {args.hold:.0f} s with "
            f"RTP at {load:.0%} of one core; pacer lateness p50 {p50:.2f} ms p99 {p99:.2f} ms "
            f"(target < {JITTER_TARGET_MS} ms), {skipped} frames skipped, {failed} failed; "
            f"carried vs SIPp uac with RTP: ratio {ratio:.2f}"
        )
    if any_failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
