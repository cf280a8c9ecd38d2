"""A recorded SIP call's two files against SIPp, with media in this process and in worker
processes: SIPp sends early media (a 2 kHz announcement after its 183), answers, and talks
(a pcap with 0.8 s of packets lost, then a 1 kHz reply); we play a 600 Hz prompt half a second
after the answer. The stereo file holds our prompt on the left and SIPp's reply on the right,
each where it happened on one clock from the answer (the reply's place is not moved by the lost
packets); the callee's file is what came after the answer, in arrival order; neither has the
early media."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import struct
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.loop_stalls import LoopStalls
from tests.sipp.pcap import FRAME, write_rtp_pcap
from tests.sipp.runner import Sipp
from voxcast.audio import g711
from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.ports import Answered, CallEvent, DialRequest, HungUp, Prompt, PromptDone, Recorded
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier, TrunkConfig

RATE = 8000
PROMPT_HZ, PROMPT_S, PLAY_AT_S = 600.0, 1.2, 0.5
EARLY_HZ, EARLY_S = 2000.0, 1.0
REPLY_HZ, REPLY_AT_S, REPLY_S = 1000.0, 2.0, 0.8
#: SIPp's talk pcap: 10 frames of silence, then frames 10-49 (0.2-1.0 s) lost on the way
LOST = frozenset(range(10, 50))
TALK_S = 6.0
HANGUP_AFTER_S = 2.0  # after the prompt: the call ends about 4.2 s after the answer
#: one 20 ms frame, the alignment promised; and what a busy machine may add to a timer
SLOT_S, SLACK_S = 0.02, 0.03
#: SIPp 3.6.1 sends a pcap's second packet with its first: everything after goes out a frame
#: before its time in the pcap
SIPP_AHEAD_S = 0.02


def tone(hz: float, seconds: float, level: int = 8000) -> bytes:
    return b"".join(
        struct.pack("<h", int(level * math.sin(2 * math.pi * hz * i / RATE)))
        for i in range(int(RATE * seconds))
    )


def quiet(seconds: float) -> bytes:
    return b"\x00\x00" * int(RATE * seconds)


def samples(pcm: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(pcm, dtype="<i2")


def through_ulaw(pcm: bytes) -> npt.NDArray[np.int16]:
    """`pcm` as it is after a trip through G.711 µ-law."""
    return samples(g711.ulaw_decode(g711.ulaw_encode(pcm)))


def power_at(signal: npt.NDArray[np.int16], hz: float) -> float:
    """The mean power of `signal` at `hz` (its projection on that tone), per sample."""
    if len(signal) == 0:
        return 0.0
    t = np.arange(len(signal)) / RATE
    x = signal.astype(np.float64)
    re, im = x @ np.cos(2 * np.pi * hz * t), x @ np.sin(2 * np.pi * hz * t)
    return float((re * re + im * im) / len(signal) ** 2)


def find(haystack: npt.NDArray[np.int16], needle: npt.NDArray[np.int16]) -> int:
    """Where `needle` lies in `haystack` sample for sample (cross-correlation, then an exact
    comparison there)."""
    a, b = haystack.astype(np.float64), needle.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    at = int(np.argmax(corr[: len(a) - len(b) + 1]))
    assert np.array_equal(haystack[at : at + len(needle)], needle), "not found whole"
    return at


def read(path: Path) -> tuple[int, int, npt.NDArray[np.int16]]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
        return w.getnchannels(), w.getframerate(), samples(frames)


@pytest.fixture(params=["in-process", "workers"])
async def media(request: pytest.FixtureRequest) -> AsyncIterator[MediaEngine]:
    engine = (
        MediaWorkers("127.0.0.1", workers=1)
        if request.param == "workers"
        else MediaEngine("127.0.0.1")
    )
    yield engine
    await engine.close()


@dataclass
class RecordedCall:
    events: list[CallEvent]
    call: SipCall
    prompt_pcm: bytes
    talk_pcm: bytes


async def recorded_call(
    media: MediaEngine,
    tmp_path: Path,
    on_answer: Callable[[], Awaitable[None]] | None = None,
) -> RecordedCall:
    """The call to SIPp described at the top, recorded; `on_answer` runs beside it from the
    answer."""
    early = write_rtp_pcap(tmp_path / "early.pcap", g711.ulaw_encode(tone(EARLY_HZ, EARLY_S)))
    talk_pcm = quiet(REPLY_AT_S) + tone(REPLY_HZ, REPLY_S) + quiet(TALK_S - REPLY_AT_S - REPLY_S)
    talk = write_rtp_pcap(tmp_path / "talk.pcap", g711.ulaw_encode(talk_pcm), missing=LOST)
    prompt_pcm = tone(PROMPT_HZ, PROMPT_S)
    prompts = PromptAudio(None)
    prompts.extra["prompt"] = prompt_pcm
    sipp = await Sipp.start(
        "early_media_talk.xml",
        keys={"early_pcap": str(early), "talk_pcap": str(talk)},
        rtp_echo=False,  # the far end's own audio only
        timeout_s=30,
    )
    carrier = SipCarrier(
        TrunkConfig("sipp", sipp.host, sipp.port),
        SystemClock(),
        media,
        prompts,
        recordings=tmp_path / "rec",
    )
    beside: list[asyncio.Task[None]] = []
    try:
        request = DialRequest(
            callee="8613000000000",
            caller_id=None,
            prompt=Prompt("prompt", PROMPT_S),
            max_talk_s=30,
            delay_play_s=PLAY_AT_S,
            delay_hangup_s=HANGUP_AFTER_S,
            record=True,
        )
        call = await carrier.dial(request)
        assert isinstance(call, SipCall)

        async def everything() -> list[CallEvent]:
            seen = []
            async for event in call.events():
                seen.append(event)
                if isinstance(event, Answered) and on_answer is not None:
                    beside.append(asyncio.create_task(on_answer()))
            return seen

        events = await asyncio.wait_for(everything(), 30)
        await asyncio.gather(*beside)
        far = await sipp.wait(10)
        assert far.ok, far
    finally:
        for task in beside:
            task.cancel()
        sipp.cleanup()
        await carrier.close()
    return RecordedCall(events, call, prompt_pcm, talk_pcm)


@pytest.mark.timeout(60)
async def test_a_recorded_call_has_both_sides_in_stereo_from_the_answer(
    media: MediaEngine, tmp_path: Path, loop_stalls: LoopStalls
) -> None:
    made = await recorded_call(media, tmp_path)
    events, call, prompt_pcm, talk_pcm = made.events, made.call, made.prompt_pcm, made.talk_pcm

    [answered] = [e for e in events if isinstance(e, Answered)]
    [done] = [e for e in events if isinstance(e, PromptDone)]
    [recorded] = [e for e in events if isinstance(e, Recorded)]
    end = events[-1]
    assert isinstance(end, HungUp) and events[-2] is recorded
    assert recorded.full is not None and recorded.customer is not None
    assert recorded.customer == call.stats.recording
    talk_s = (end.at - answered.at).total_seconds()

    channels, rate, full = read(recorded.full)
    assert (channels, rate) == (2, RATE)
    left, right = full[0::2], full[1::2]
    # from the answer to the hang-up
    assert abs(len(left) / RATE - talk_s) <= SLOT_S + SLACK_S, (len(left) / RATE, talk_s)

    # left: exactly the prompt's frames, where they were played, silence all around
    sent = through_ulaw(prompt_pcm)
    played_at = find(left, sent) / RATE
    assert PLAY_AT_S <= played_at <= PLAY_AT_S + SLOT_S + SLACK_S, played_at
    over_at = (done.at - answered.at).total_seconds() - SLOT_S  # PromptDone: a frame later
    assert abs(played_at + PROMPT_S - over_at) <= SLOT_S + SLACK_S, (played_at, over_at)
    start = round(played_at * RATE)
    assert not left[:start].any() and not left[start + len(sent) :].any()

    # right: the reply where SIPp sent it, after 0.8 s of lost packets left silent (not
    # closed up, which would put it at 1.2 s)
    reply_at = find(right, through_ulaw(tone(REPLY_HZ, REPLY_S))) / RATE
    sent_at = REPLY_AT_S - SIPP_AHEAD_S
    assert sent_at - SLOT_S <= reply_at <= sent_at + SLOT_S + SLACK_S, reply_at
    assert not right[: round(reply_at * RATE)].any()
    # the reply came after the prompt, as it did on the call
    assert reply_at > played_at + PROMPT_S

    # the callee's file: what came after the answer, in arrival order, mono
    channels, rate, customer = read(recorded.customer)
    assert (channels, rate) == (1, RATE)
    received = through_ulaw(talk_pcm)
    kept = np.concatenate(
        [
            received[n * FRAME : (n + 1) * FRAME]
            for n in range(len(received) // FRAME)
            if n not in LOST
        ]
    )
    # all the far end sent after the answer (a stall of ours sees its BYE later)
    assert len(customer) >= (talk_s - 1.0 - loop_stalls.total_s) * RATE, (len(customer), talk_s)
    # a media worker starts recording when it hears of the answer: the far end's first
    # packets may have come just before (SIPp sends two at once, on the ACK)
    late = 3 if isinstance(media, MediaWorkers) else 0
    assert any(
        np.array_equal(customer, kept[k * FRAME : k * FRAME + len(customer)])
        for k in range(late + 1)
    ), "the callee's file is not what came after the answer, in arrival order"

    # no early media anywhere: none of the 2 kHz announcement
    for track in (left, right, customer):
        assert power_at(track, EARLY_HZ) < 1.0, power_at(track, EARLY_HZ)
    assert power_at(right, REPLY_HZ) > 1000 and power_at(left, PROMPT_HZ) > 1000


@pytest.mark.timeout(60)
async def test_the_reply_stays_in_place_when_the_media_worker_stalls_as_it_arrives(
    tmp_path: Path,
) -> None:
    """The media worker is stopped (SIGSTOP) from just before the far end's reply until
    0.5 s into it: the reply's packets wait in the socket and are read in one burst. Their
    RTP timestamps still put the reply where it was sent, whole (CI saw its first samples
    overwritten: the burst was taken for a new stream and laid where it was read)."""
    media = MediaWorkers("127.0.0.1", workers=1)

    async def stall() -> None:
        [shard] = media.shards
        await asyncio.sleep(REPLY_AT_S - 0.2)
        os.kill(shard.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(0.7)
        finally:
            os.kill(shard.pid, signal.SIGCONT)

    try:
        made = await recorded_call(media, tmp_path, on_answer=stall)
    finally:
        await media.close()
    [recorded] = [e for e in made.events if isinstance(e, Recorded)]
    assert recorded.full is not None
    _, _, full = read(recorded.full)
    right = full[1::2]
    reply_at = find(right, through_ulaw(tone(REPLY_HZ, REPLY_S))) / RATE
    sent_at = REPLY_AT_S - SIPP_AHEAD_S
    # the stall is measured from our answer event, which the worker's clock may precede by
    # what it took to reach us: the reply's place is the one it had without the stall
    assert sent_at - SLOT_S <= reply_at <= sent_at + SLOT_S + SLACK_S, reply_at
