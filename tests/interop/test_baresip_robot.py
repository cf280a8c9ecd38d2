"""The robot over SIP to a real softphone: an AI group call dialed through a trunk to baresip,
which answers at once and speaks (its microphone a WAV of voxcast's TTS saying "Yes, speaking."
after the robot's question); the robot hears it on baresip's RTP (VAD, the packaged Whisper
model, the intent rules), says goodbye and hangs up, and baresip's own recording holds the
robot's speech. On SQLite: test_sip_robot.py runs the robot's records on both backends."""

from __future__ import annotations

import asyncio
import re
import wave
from pathlib import Path

import pytest

from tests.helpers import SQLITE_ONLY
from tests.integration.test_sip_calls import sip_rig
from tests.integration.test_sip_robot import (
    GOODBYE,
    NUMBER,
    QUESTION,
    RATE,
    callee_speech,
    robot_task,
    script_document,
    seconds_of,
    spoken,
    turns,
)
from tests.interop.conftest import StartBaresip
from tests.interop.peers import wav_stats
from voxcast.config import Settings

pytestmark = pytest.mark.timeout(180)

#: baresip 1.0.0's aufile source plays its file once and then ends the call (its end-of-file
#: check runs each second and closes the call, with a BYE): the silence after the words must
#: outlast hearing them, the goodbye and our BYE on a slow machine
TAIL_S = 40.0
#: the robot's two lines as baresip records them: about 1900 (pauses in the speech included);
#: silence or a lost stream is near 0
SPEECH_RMS = 1000


def callee_wav(path: Path, words: str, lead_s: float) -> Path:
    """baresip's microphone: `lead_s` of silence from its answer, `words`, then TAIL_S of
    silence, as 8 kHz mono 16-bit (aufile wants the codec's rate)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(callee_speech(words, lead_s, TAIL_S))
    return path


@SQLITE_ONLY
async def test_baresip_says_yes_the_robot_hears_it_says_goodbye_and_hangs_up(
    settings: Settings, tmp_path: Path, baresip: StartBaresip
) -> None:
    question_s = seconds_of(await asyncio.to_thread(spoken, QUESTION))
    goodbye_s = seconds_of(await asyncio.to_thread(spoken, GOODBYE))
    # the callee answers well after the question ends, even if rendering it took a while
    lead_s = question_s + 4.0
    source = await asyncio.to_thread(callee_wav, tmp_path / "callee.wav", "Yes, speaking.", lead_s)
    phone = await baresip(source=source, callee=NUMBER)
    async with sip_rig(settings) as rig:
        record, call = await robot_task(rig, phone, script_document())
    exit_code = await phone.stop()  # closes its recordings
    log = phone.log()
    assert record.sip_code == "200" and record.answer_time is not None, log
    lines = turns(record)
    assert [t["speaker"] for t in lines] == ["ROBOT", "PERSON", "ROBOT"], (lines, log)
    asked, answer, goodbye = lines
    assert asked["text"] == QUESTION
    assert "speaking" in answer["text"].lower() and answer["intent"] == "yes", answer
    assert goodbye["text"] == GOODBYE
    assert asked["end_ms"] <= answer["start_ms"] < answer["end_ms"] <= goodbye["start_ms"], lines
    # heard where baresip's WAV has the words (its source starts as it answers)
    assert answer["start_ms"] >= lead_s * 1000 - 500, (answer, lead_s)
    conversation = record.conversation
    assert conversation is not None
    assert conversation["intent_level"] == "A" and conversation["tags"] == ["confirmed"]
    # the call ended normally: our BYE after the goodbye, long before the WAV ran out (when
    # baresip would have hung up), and baresip's 200 to it
    assert conversation["hangup_by"] == "us", (conversation, log)
    assert record.termination_code == "200" and record.hangup_time is not None, log
    talk_s = (record.hangup_time - record.answer_time).total_seconds()
    assert talk_s < lead_s + TAIL_S / 2, (talk_s, log)
    ours = rf"UDP [\d.]+:\d+ -> {phone.host}:{phone.port}\s+BYE sip:{NUMBER}"
    assert re.search(ours, log), log
    answered = rf"{phone.host}:{phone.port} -> [\d.:]+\s+SIP/2.0 200 [^\[]*CSeq: \d+ BYE"
    assert re.search(answered, log), log
    assert exit_code == 0, log
    # baresip heard the robot: both lines whole (the robot sends RTP only while it speaks),
    # at speech level
    sent = call.stats.rtp_sent + call.stats.rtp_dropped
    assert sent >= (question_s + goodbye_s) * 50 - 10, (sent, question_s, goodbye_s)
    [heard] = phone.received()
    heard_stats = wav_stats(heard)
    assert heard_stats.rms > SPEECH_RMS, (heard_stats, log)
    # (what we sent: a stall of ours past the pacer's catch-up drops frames, counted)
    sent_s = call.stats.rtp_sent / 50
    assert heard_stats.seconds == pytest.approx(sent_s, abs=0.6), (heard_stats, sent_s)
