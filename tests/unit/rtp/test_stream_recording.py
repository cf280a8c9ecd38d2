"""A stream's recording over real sockets, in this process and in a media worker: the frames our
pacer sends and the packets relayed to the far end (a bridged agent's) land on the left when
they went out, the far end's on the right when they came, on one clock from `record()`."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voxcast.audio import g711
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMU
from voxcast.telephony.rtp.workers import MediaWorkers

RATE = 8000


def level(value: int, frames: int) -> bytes:
    """`frames` 20 ms µ-law frames of one constant sample."""
    return g711.ulaw_encode(np.full(frames * FRAME_SAMPLES, value, dtype="<i2").tobytes())


def decoded(value: int) -> int:
    return int(np.frombuffer(g711.ulaw_decode(level(value, 1)[:1]), dtype="<i2")[0])


def stereo(path: Path) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getframerate()) == (2, RATE)
        both = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return both[0::2], both[1::2]


def span(track: npt.NDArray[np.int16], value: int) -> tuple[float, float]:
    """First and last second (end) of the samples equal to `value`."""
    found = np.flatnonzero(track == value)
    assert len(found), f"{value} is not in the track"
    return found[0] / RATE, (found[-1] + 1) / RATE


@pytest.fixture(params=["in-process", "worker"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[MediaEngine]:
    made = (
        MediaWorkers("127.0.0.1", workers=1)
        if request.param == "worker"
        else MediaEngine("127.0.0.1")
    )
    yield made
    await asyncio.wait_for(made.close(), 20)


@pytest.mark.timeout(30)
async def test_both_sides_land_where_they_went_out_and_came_in(
    engine: MediaEngine, tmp_path: Path
) -> None:
    far_end = MediaEngine("127.0.0.1")  # the callee's and the agent's phones, in this process
    ours, agent = await engine.open_stream(), await engine.open_stream()
    callee, phone = await far_end.open_stream(), await far_end.open_stream()
    try:
        ours.start(("127.0.0.1", callee.port), PCMU, None)
        callee.start(("127.0.0.1", ours.port), PCMU, None)
        agent.start(("127.0.0.1", phone.port), PCMU, None)
        phone.start(("127.0.0.1", agent.port), PCMU, None)
        agent.relay_to = ours  # the bridge: what the agent says goes to the callee
        ours.record(tmp_path, "call", 60)
        await asyncio.sleep(0.3)
        await asyncio.wait_for(ours.play(level(4000, 25)), 5)  # 0.3 s in, half a second
        await asyncio.sleep(0.2)
        # the callee answers 1.0 s in, for 0.4 s
        await asyncio.wait_for(callee.play(level(-3000, 20)), 5)
        await asyncio.sleep(0.2)
        # the agent says something, 1.6 s in, relayed to the callee
        await asyncio.wait_for(phone.play(level(2000, 5)), 5)
        await asyncio.sleep(0.3)
        full, customer = await asyncio.wait_for(ours.finish_recording(), 10)
    finally:
        for stream in (agent, ours, callee, phone):
            stream.close()
        await far_end.close()
    assert full is not None and customer is not None
    left, right = stereo(full)
    seconds = len(left) / RATE
    assert seconds == pytest.approx(2.075, abs=0.225), seconds  # 1.85-2.3 s
    start, end = span(left, decoded(4000))
    assert 0.3 <= start <= 0.4 and end - start == pytest.approx(0.5, abs=1e-9)
    start, end = span(right, decoded(-3000))
    assert start == pytest.approx(1.075, abs=0.075), start  # 1.0-1.15 s
    assert end - start == pytest.approx(0.4, abs=0.02)
    start, end = span(left, decoded(2000))
    assert start == pytest.approx(1.675, abs=0.075), start  # 1.6-1.75 s
    assert end - start == pytest.approx(0.1, abs=1e-9)
    assert int(np.count_nonzero(left == decoded(2000))) == 5 * FRAME_SAMPLES
    assert not (right == decoded(2000)).any()
    # the callee's file: the callee alone, as it came
    with wave.open(str(customer), "rb") as w:
        assert (w.getnchannels(), w.getnframes()) == (1, 20 * FRAME_SAMPLES)
