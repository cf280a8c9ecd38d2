"""Answering-machine detection against SIPp as the far end, with media in this process and in
worker processes: SIPp answers and talks (an RTP pcap of a test-set greeting with its beep, or
a person's "Hello?") and echoes every packet we send (`-rtp_echo`), so the call's recording
(what came back, in arrival order) shows when the far end received our audio: a voicemail drop
reaches it only after the beep, once; a person gets the whole prompt after the verdict."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.data.amd.make import HERE as AMD_SET
from tests.data.amd.make import read_ulaw_wav
from tests.sipp.pcap import write_rtp_pcap
from tests.sipp.runner import Sipp
from voxcast.audio.hearing.machine import BeepDetector
from voxcast.audio.pcm import read_wav
from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.domain.amd import AmdSettings, Verdict
from voxcast.ports import AmdDecided, DialRequest, HungUp, Prompt, PromptDone
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier, TrunkConfig

PROMPT_HZ, PROMPT_S = 440.0, 1.5
FRAME = 320  # 20 ms of 16-bit PCM


def prompt_tone() -> bytes:
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * PROMPT_HZ * i / 8000)))
        for i in range(int(8000 * PROMPT_S))
    )


@pytest.fixture(params=["in-process", "workers"])
async def media(request: pytest.FixtureRequest) -> AsyncIterator[MediaEngine]:
    engine = (
        MediaWorkers("127.0.0.1", workers=1)
        if request.param == "workers"
        else MediaEngine("127.0.0.1")
    )
    yield engine
    await engine.close()


async def call_far_end(
    media: MediaEngine, tmp_path: Path, greeting: str, *, loops: int = 1
) -> tuple[list[object], SipCall]:
    pcap = write_rtp_pcap(tmp_path / "talk.pcap", read_ulaw_wav(AMD_SET / greeting))
    prompts = PromptAudio(None)
    prompts.extra["amd-prompt"] = prompt_tone()
    sipp = await Sipp.start("answer_talk.xml", keys={"talk_pcap": str(pcap)}, timeout_s=40)
    carrier = SipCarrier(
        TrunkConfig("sipp", sipp.host, sipp.port),
        SystemClock(),
        media,
        prompts,
        recordings=tmp_path / "rec",
    )
    try:
        request = DialRequest(
            callee="8613000000000",
            caller_id=None,
            prompt=Prompt("amd-prompt", PROMPT_S),
            loop_count=loops,
            max_talk_s=40,
            record=True,
            amd=AmdSettings(),
            voicemail_drop=True,
        )
        call = await carrier.dial(request)
        events = await asyncio.wait_for(_all(call), 40)
        result = await sipp.wait(10)
        assert result.ok, result
    finally:
        sipp.cleanup()
        await carrier.close()
    return events, call


async def _all(call: SipCall) -> list[object]:
    return [event async for event in call.events()]


def tones(recording: Path) -> list[float | None]:
    """The tone each 20 ms frame of what came back holds (None: speech, silence)."""
    pcm = read_wav(recording).pcm
    detector = BeepDetector()
    return [detector.tone(pcm[i : i + FRAME]) for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def frames_of(found: list[float | None], hz: float) -> list[int]:
    return [i for i, f in enumerate(found) if f is not None and abs(f - hz) <= 20]


def prompt_frames(found: list[float | None]) -> list[int]:
    """The frames of our prompt that came back: 440 Hz from where it holds 8 frames in 20 on
    (a voice's harmonic can sit at 440 Hz for a few frames; the echo comes interleaved with
    the far end's own packets)."""
    tone = frames_of(found, PROMPT_HZ)
    held = set(tone)
    steady = next(i for i in tone if sum(i + k in held for k in range(20)) >= 8)
    return [i for i in tone if i >= steady]


async def test_the_voicemail_drop_reaches_the_far_end_only_after_the_beep(
    media: MediaEngine, tmp_path: Path
) -> None:
    events, call = await call_far_end(media, tmp_path, "machine-spoken0.wav", loops=3)
    [decided] = [e for e in events if isinstance(e, AmdDecided)]
    assert decided.result.verdict is Verdict.MACHINE
    end = events[-1]
    assert isinstance(end, HungUp) and end.reason == "voicemail left"
    assert call.stats.recording is not None
    found = tones(call.stats.recording)
    beep = frames_of(found, 1000.0)  # machine-spoken0's beep is 1 kHz
    echoed = prompt_frames(found)
    assert not frames_of(found[: min(echoed)], PROMPT_HZ)
    assert len(beep) >= 15, found  # the greeting's 400 ms beep came in
    # our audio came back only after the beep had ended: the far end got none before it
    assert echoed and min(echoed) > max(beep)
    # the message once (not loop_count times): 1.5 s of 20 ms frames, give or take the edges
    assert abs(len(echoed) - PROMPT_S / 0.02) <= 3
    assert call.stats.rtp_sent == PROMPT_S / 0.02


async def test_a_person_hears_the_whole_prompt_after_the_verdict(
    media: MediaEngine, tmp_path: Path
) -> None:
    events, call = await call_far_end(media, tmp_path, "human-spoken0.wav", loops=2)
    [decided] = [e for e in events if isinstance(e, AmdDecided)]
    assert decided.result.verdict is Verdict.HUMAN
    assert any(isinstance(e, PromptDone) for e in events)
    assert call.stats.recording is not None
    found = tones(call.stats.recording)
    echoed = prompt_frames(found)
    assert abs(len(echoed) - 2 * PROMPT_S / 0.02) <= 3  # both loops reached the far end


async def test_a_far_end_that_sends_no_audio_is_notsure_and_hears_the_prompt(
    media: MediaEngine, tmp_path: Path
) -> None:
    prompts = PromptAudio(None)
    prompts.extra["amd-prompt"] = prompt_tone()
    # answers and says nothing (no RTP at all): the detector has no frames to judge
    sipp = await Sipp.start("answer_hold.xml", rtp_echo=False, timeout_s=30)
    carrier = SipCarrier(TrunkConfig("sipp", sipp.host, sipp.port), SystemClock(), media, prompts)
    try:
        request = DialRequest(
            callee="8613000000000",
            caller_id=None,
            prompt=Prompt("amd-prompt", PROMPT_S),
            max_talk_s=30,
            amd=AmdSettings(),
            voicemail_drop=True,
        )
        call = await carrier.dial(request)
        events = await asyncio.wait_for(_all(call), 30)
        assert (await sipp.wait(10)).ok
    finally:
        sipp.cleanup()
        await carrier.close()
    [decided] = [e for e in events if isinstance(e, AmdDecided)]
    assert (decided.result.verdict, decided.result.cause) == (Verdict.NOTSURE, "TOOLONG-5000")
    done = next(e for e in events if isinstance(e, PromptDone))
    # the clock gave the verdict (analysis time plus a second's grace), then the prompt played
    assert (done.at - decided.at).total_seconds() >= PROMPT_S - 0.05
    assert isinstance(events[-1], HungUp) and events[-1].reason == "normal clearing"
