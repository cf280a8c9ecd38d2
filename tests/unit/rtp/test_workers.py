"""Calls' media in worker processes (`MediaWorkers`): a prompt sent from a worker arrives whole,
continuous and on time at a real UDP receiver; what the far end sends (DTMF, recorded audio)
comes back to this process; bridged streams relay in one worker and across two; a worker
killed with SIGKILL is noticed, its streams fail with the cause and nothing waits forever."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator

import pytest

from voxcast.telephony.rtp.dtmf import encode
from voxcast.telephony.rtp.packet import RtpPacket, parse
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMU
from voxcast.telephony.rtp.workers import MediaWorkers, RemoteStream

DTMF_PAYLOAD = 101


def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> list[tuple[RtpPacket, float]]:
    """Packets waiting on `sock`, each with the time it was read."""
    packets = []
    while True:
        try:
            packets.append((parse(sock.recv(2048)), time.monotonic()))
        except BlockingIOError:
            return packets


async def collect(sock: socket.socket, seconds: float) -> list[tuple[RtpPacket, float]]:
    """Read `sock` every 2 ms for `seconds`: arrival times good to a few milliseconds."""
    packets: list[tuple[RtpPacket, float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        packets += drain(sock)
        await asyncio.sleep(0.002)
    return packets + drain(sock)


@pytest.fixture
async def workers() -> AsyncIterator[MediaWorkers]:
    engine = MediaWorkers("127.0.0.1", workers=2)
    await asyncio.wait_for(engine.start(), 20)
    yield engine
    await asyncio.wait_for(engine.close(), 20)


async def open_remote(engine: MediaWorkers) -> RemoteStream:
    stream = await asyncio.wait_for(engine.open_stream(), 10)
    assert isinstance(stream, RemoteStream)
    return stream


async def test_a_prompt_played_from_a_worker_arrives_whole_continuous_and_on_time(
    workers: MediaWorkers,
) -> None:
    sink = receiver()
    stream = await open_remote(workers)
    # the stream's socket is the worker's, not ours: this process holds no such port
    assert stream.sid in workers.shards[0].streams or stream.sid in workers.shards[1].streams
    stream.start(sink.getsockname(), PCMU, None)
    frames = 50
    audio = bytes(range(FRAME_SAMPLES)) * frames
    loop = asyncio.get_running_loop()
    started = loop.time()
    listening = asyncio.ensure_future(collect(sink, 1.3))
    await asyncio.wait_for(stream.play(audio), 10)
    talked = loop.time() - started
    received = await listening
    sink.close()
    packets = [p for p, _ in received]
    assert len(packets) == frames
    assert [(p.sequence - packets[0].sequence) % 65536 for p in packets] == list(range(frames))
    assert [(p.timestamp - packets[0].timestamp) % 2**32 for p in packets] == [
        FRAME_SAMPLES * i for i in range(frames)
    ]
    assert [p.marker for p in packets] == [True] + [False] * (frames - 1)
    assert b"".join(p.payload for p in packets) == audio
    # on time: packet i arrives about 20 ms * i after the first (loose for a loaded machine,
    # yet a pacer that sent in bursts or at the wrong rate would miss it by far)
    first = received[0][1]
    offsets = [at - first - 0.02 * i for i, (_, at) in enumerate(received)]
    assert max(abs(o) for o in offsets) < 0.15, offsets
    assert 0.95 <= talked < 1.5
    await stream.sync()
    assert (stream.sent, stream.dropped) == (frames, 0)
    stream.close()


async def test_a_prompt_is_sent_to_a_worker_once_for_any_number_of_calls(
    workers: MediaWorkers,
) -> None:
    sink = receiver()
    audio = b"\x7f" * FRAME_SAMPLES * 2
    streams = [await open_remote(workers) for _ in range(6)]
    for stream in streams:
        stream.start(sink.getsockname(), PCMU, None)
    await asyncio.wait_for(asyncio.gather(*(s.play(audio) for s in streams)), 10)
    await asyncio.sleep(0.05)
    assert len(drain(sink)) == 12
    # both workers hold streams, and each received the prompt's bytes in its cache once
    for shard in workers.shards:
        assert len(shard.streams) == 3
        assert len(shard.audio._items) == 1
    for stream in streams:
        stream.close()
    sink.close()


async def test_dtmf_and_recorded_audio_from_the_far_end_reach_this_process(
    workers: MediaWorkers,
) -> None:
    far = receiver()
    stream = await open_remote(workers)
    stream.start(far.getsockname(), PCMU, DTMF_PAYLOAD, record=True)
    keys: list[str] = []
    stream.on_dtmf = keys.append
    await stream.sync()  # a round trip: the worker has the SDP's address before packets come
    target = ("127.0.0.1", stream.port)
    voice = bytes(range(FRAME_SAMPLES))
    for i in range(3):
        far.sendto(RtpPacket(PCMU, 10 + i, 1000 + 160 * i, 77, voice[:160]).pack(), target)
    for i in range(3):  # an RFC 4733 key "5": its end packet sent three times, counted once
        event = encode("5", end=True, duration=800)
        far.sendto(RtpPacket(DTMF_PAYLOAD, 13 + i, 2000, 77, event).pack(), target)
    for _ in range(200):
        if keys:
            break
        await asyncio.sleep(0.01)
    assert keys == ["5"]
    for _ in range(200):  # the worker may read the last datagram after its key's report
        await asyncio.wait_for(stream.sync(), 10)
        if stream.received == 6:
            break
        await asyncio.sleep(0.01)
    assert stream.received == 6
    assert stream.reception is not None and stream.reception.audio == voice[:160] * 3
    stream.close()
    far.close()


async def test_bridged_streams_relay_in_one_worker_and_across_two(
    workers: MediaWorkers,
) -> None:
    a = await open_remote(workers)
    b = await open_remote(workers)
    c = await open_remote(workers)
    # placement: the emptier worker first, so a and c share one and b is in the other
    assert a._shard is c._shard and a._shard is not b._shard
    sinks = {name: receiver() for name in "abc"}
    for name, stream in zip("abc", (a, b, c), strict=True):
        stream.start(sinks[name].getsockname(), PCMU, None)
    a.relay_to, b.relay_to = b, a  # across workers, through this process
    c.relay_to = a  # in one worker
    for stream in (a, b, c):  # a round trip each: the workers have it all before packets come
        await stream.sync()
    payload = b"\x55" * FRAME_SAMPLES
    for i in range(5):
        sinks["a"].sendto(RtpPacket(PCMU, i, 160 * i, 9, payload).pack(), ("127.0.0.1", a.port))
        sinks["c"].sendto(RtpPacket(PCMU, i, 160 * i, 8, payload).pack(), ("127.0.0.1", c.port))
    got_b = await collect(sinks["b"], 0.3)
    got_a = drain(sinks["a"])
    assert len(got_b) == 5 and all(p.payload == payload for p, _ in got_b)
    assert len(got_a) == 5  # c's packets, relayed to a's far end
    await b.sync()
    await a.sync()
    assert (b.relayed, a.relayed) == (5, 5)
    for stream in (a, b, c):
        stream.close()
    for sink in sinks.values():
        sink.close()


async def test_a_worker_killed_with_sigkill_fails_its_streams_and_the_others_go_on(
    workers: MediaWorkers,
) -> None:
    sink = receiver()
    doomed, spared = await open_remote(workers), await open_remote(workers)
    assert doomed._shard is not spared._shard
    lost: list[str] = []
    doomed.on_lost = lost.append
    for stream in (doomed, spared):
        stream.start(sink.getsockname(), PCMU, None)
    long_prompt = b"\x01" * FRAME_SAMPLES * 500  # 10 s
    playing = doomed.play(long_prompt)
    await asyncio.sleep(0.2)
    os.kill(doomed._shard.pid, signal.SIGKILL)
    # the play ends at once rather than in 10 s, and the stream says why
    await asyncio.wait_for(playing, 5)
    assert lost == [doomed.failure]
    assert doomed.failure is not None and "killed by signal 9" in doomed.failure
    await asyncio.wait_for(doomed.sync(), 1)  # nothing to wait for from a dead worker
    # new calls go to the worker still alive, and play there
    replacement = await open_remote(workers)
    assert replacement._shard is spared._shard
    replacement.start(sink.getsockname(), PCMU, None)
    drain(sink)
    await asyncio.wait_for(replacement.play(b"\x02" * FRAME_SAMPLES * 3), 5)
    await asyncio.sleep(0.05)
    assert [p.payload[0] for p, _ in drain(sink)] == [2, 2, 2]
    assert spared.failure is None
    # with no worker left, opening a stream fails as a missing port would (the call fails)
    os.kill(spared._shard.pid, signal.SIGKILL)
    for _ in range(500):
        if spared.failure is not None:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(OSError, match="every media worker has died"):
        await workers.open_stream()
    sink.close()


async def test_a_workers_stream_refuses_a_listener_it_could_not_feed_in_time(
    workers: MediaWorkers,
) -> None:
    # barge-in must stop the prompt within a frame of the callee's packet: a stream whose
    # packets land in another process says so instead of never calling the listener
    stream = await open_remote(workers)
    with pytest.raises(TypeError, match="cannot be listened to"):
        stream.on_audio = lambda payload: None
    stream.on_audio = None
    assert stream.on_audio is None
    stream.close()
