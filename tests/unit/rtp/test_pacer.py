"""The shared 20 ms pacer when the event loop stalls (a busy machine, a long callback): the
frames that fell due meanwhile are sent late rather than never, up to MAX_CATCH_UP_S; older
ones are dropped, counted, and the RTP timestamps tell the far end how long the silence was.
Real UDP: a receiver socket on loopback counts what arrived."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from dataclasses import dataclass

from prometheus_client import REGISTRY

from voxcast.telephony.rtp.dtmf import encode
from voxcast.telephony.rtp.media import BURST_FRAMES, MediaEngine, MediaStream
from voxcast.telephony.rtp.packet import RtpPacket, parse
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMU


def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> list[RtpPacket]:
    packets = []
    while True:
        try:
            packets.append(parse(sock.recv(2048)))
        except BlockingIOError:
            return packets


@dataclass
class Stalled:
    stream: MediaStream
    packets: list[RtpPacket]
    talked: float  # seconds until the audio was over
    stalled: float  # seconds the loop was blocked
    resumed: float  # seconds from the stall's start until the loop ran callbacks again
    lateness: float  # the loop's worst lateness outside the stall (a loaded machine's share)


async def play_with_a_stall(frames: int, stall_s: float) -> Stalled:
    """Play `frames` frames of audio; 0.3 s in, block the event loop for `stall_s`. A probe
    that wakes every 5 ms measures how late the loaded machine runs the loop besides."""
    engine = MediaEngine("127.0.0.1")
    sink = receiver()
    stream = await engine.open_stream()
    stream.start(sink.getsockname(), PCMU, None)
    loop = asyncio.get_running_loop()
    window: list[float] = []

    def resumed() -> None:
        window.append(time.monotonic())

    def stall() -> None:  # the loop is stuck for that long (a busy machine: a little longer)
        window.append(time.monotonic())
        time.sleep(stall_s)
        window.append(time.monotonic())
        loop.call_soon(resumed)

    late: list[float] = []

    async def probe() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.005)
            after = time.monotonic()
            if not window or (len(window) == 3 and before > window[2]):
                late.append(after - before - 0.005)

    prober = asyncio.create_task(probe())
    loop.call_later(0.3, stall)
    started = loop.time()
    await asyncio.wait_for(stream.play(b"\x01" * FRAME_SAMPLES * frames), 10)
    talked = loop.time() - started
    prober.cancel()
    await asyncio.sleep(0.05)  # the last datagrams through loopback
    packets = drain(sink)
    stream.close()
    await engine.close()
    sink.close()
    began, ended, back = window
    return Stalled(stream, packets, talked, ended - began, back - began, max(late, default=0.0))


async def test_frames_due_during_a_stall_are_sent_when_the_loop_runs_again() -> None:
    run = await play_with_a_stall(50, 0.2)
    stream, packets = run.stream, run.packets
    # every frame, in order, one talkspurt: nothing the caller would hear as a gap
    assert len(packets) == 50 and stream.sent == 50 and stream.dropped == 0
    assert [(p.sequence - packets[0].sequence) % 65536 for p in packets] == list(range(50))
    assert [(p.timestamp - packets[0].timestamp) % 2**32 for p in packets] == [
        160 * i for i in range(50)
    ]
    assert [p.marker for p in packets] == [True] + [False] * 49
    # ...and on time: 50 frames are 1 s of talk, and the stall delayed its end by nothing (the
    # pacer that skipped the stalled ticks ended 0.2 s late). The margin is 50 ms plus the
    # loop's worst lateness outside the stall, as the probe measured it on this machine
    assert run.talked >= 1.0
    assert run.talked < 1.05 + run.lateness, (run.talked, run.lateness)


async def test_frames_older_than_the_catch_up_window_are_dropped_and_counted() -> None:
    run = await play_with_a_stall(75, 0.8)
    stream, packets = run.stream, run.packets
    # 0.8 s behind: the last 0.5 s (25 frames) are sent late, the 15 before them never (the
    # stall began up to a frame after a tick; a loaded machine runs the loop again later, and
    # the pacer's timer up to the loop's measured lateness after that)
    most = int((run.resumed + run.lateness) / 0.02) - 25 + 2
    assert int(run.stalled / 0.02) - 25 - 1 <= stream.dropped <= most, run
    assert len(packets) == stream.sent == 75 - stream.dropped
    # sequence numbers go on unbroken (nothing is lost on the wire); the timestamp jumps over
    # the dropped frames, and that packet opens a new talkspurt
    assert [(p.sequence - packets[0].sequence) % 65536 for p in packets] == list(
        range(75 - stream.dropped)
    )
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    jump = 160 * (stream.dropped + 1)
    assert sorted(steps) == [160] * (len(steps) - 1) + [jump]
    gap = steps.index(jump) + 1
    assert [i for i, p in enumerate(packets) if p.marker] == [0, gap]


def _metric(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def test_the_pacers_lateness_and_skipped_frames_reach_the_metrics() -> None:
    ticks = _metric("voxcast_rtp_pacer_lateness_seconds_count")
    skipped = _metric("voxcast_rtp_pacer_skipped_frames_total")
    late = _metric("voxcast_rtp_pacer_lateness_seconds_sum")
    stream = (await play_with_a_stall(75, 0.8)).stream
    # one lateness sample per frame slot sent (the last burst may outrun the audio's end)
    sent_slots = _metric("voxcast_rtp_pacer_lateness_seconds_count") - ticks
    assert stream.sent <= sent_slots <= stream.sent + BURST_FRAMES
    assert _metric("voxcast_rtp_pacer_skipped_frames_total") - skipped == stream.dropped
    # the 25 frames caught up after the stall were 0.5 s late down to 0: about 6 s in all
    assert _metric("voxcast_rtp_pacer_lateness_seconds_sum") - late > 25 * 0.2


async def test_a_key_that_arrived_before_a_stalled_prompts_end_is_taken_before_the_end() -> None:
    # the callee's audio and then its key press reach the socket while the loop is stuck;
    # the pacer then finds the prompt's time over. asyncio reads one datagram per pass, so
    # without reading what waits first the prompt would end (and the call hang up) with the
    # key still unread in the kernel
    engine = MediaEngine("127.0.0.1")
    far = receiver()
    stream = await engine.open_stream()
    stream.start(far.getsockname(), PCMU, 101)
    keys: list[str] = []
    stream.on_dtmf = keys.append
    loop = asyncio.get_running_loop()

    def stall() -> None:
        to = ("127.0.0.1", stream.port)
        for seq in range(40):
            far.sendto(RtpPacket(PCMU, seq, seq * 160, 7, b"\xff" * 160).pack(), to)
        for n in range(3):  # the key's end packet, sent three times (RFC 4733 §2.5.1.4)
            payload = encode("1", end=True, duration=800)
            far.sendto(RtpPacket(101, 40 + n, 40 * 160, 7, payload).pack(), to)
        time.sleep(1.0)  # longer than the prompt and than the pacer's catch-up window

    loop.call_later(0.05, stall)
    heard_at_the_end: list[str] = []
    played = stream.play(b"\x01" * FRAME_SAMPLES * 10)  # 0.2 s
    played.add_done_callback(lambda _: heard_at_the_end.extend(keys))
    await asyncio.wait_for(played, 10)
    assert stream.dropped > 0  # the stall outlasted the prompt
    assert heard_at_the_end == ["1"]
    stream.close()
    await engine.close()
    far.close()
