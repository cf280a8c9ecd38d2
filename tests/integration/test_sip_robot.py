"""The whole robot over SIP, on SQLite and PostgreSQL: an AI task dialed by the dialer through a
trunk to SIPp, which answers and plays a person's words (voxcast's own TTS, as the sandbox's
callees speak); the robot hears them (RTP, VAD, the packaged Whisper model, the intent rules),
answers, hangs up, and the call record keeps the conversation."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dialing import insert_task, records_of, wait_status
from tests.integration.test_sip_calls import FarEnd, SipRig, sip_rig
from tests.loop_stalls import LoopStalls
from tests.sipp.pcap import write_rtp_pcap
from tests.sipp.runner import Sipp, SippResult
from voxcast.audio import g711
from voxcast.audio.tts import choose_voice, speak
from voxcast.config import Settings
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.services import scripts
from voxcast.storage.models import CallRecord
from voxcast.telephony.sip.aio.carrier import SipCall

pytestmark = pytest.mark.timeout(180)

QUESTION = "Am I speaking with Jack?"
GOODBYE = "Thank you. Goodbye."
#: a prompt long enough to talk over (the barge-in case)
LONG_QUESTION = (
    "Hello, this is the billing assistant of Example Energy, calling about your account. "
    "Am I speaking with Jack?"
)
RATE = 8000
#: the callee robot_task dials
NUMBER = "8613000000000"


def script_document(question: str = QUESTION, *, interruptible: bool = False) -> dict[str, Any]:
    hangup = {"type": "hangup"}
    return {
        "formatVersion": 1,
        "name": "Identity check",
        "language": "en",
        "start": "identify",
        "intents": {
            "yes": {"keywords": ["yes", "yeah", "speaking"], "examples": ["yes speaking"]},
            "no": {"keywords": ["no", "wrong number"], "examples": ["you have the wrong number"]},
        },
        "nodes": {
            "identify": {
                "prompt": {"text": question},
                "interruptible": interruptible,
                # generous: the callee's words start seconds after the prompt on a slow machine
                "listenTimeoutMs": 10000,
                "retries": 0,
                "branches": [
                    {
                        "intent": "yes",
                        "actions": [
                            {"type": "say", "prompt": {"text": GOODBYE}},
                            {"type": "intentLevel", "level": "A"},
                            {"type": "tag", "tag": "confirmed"},
                            hangup,
                        ],
                    },
                    {"intent": "no", "actions": [{"type": "intentLevel", "level": "F"}, hangup]},
                ],
                "noMatch": [{"type": "intentLevel", "level": "E"}, hangup],
                "silence": [{"type": "intentLevel", "level": "E"}, hangup],
            }
        },
    }


@functools.lru_cache(maxsize=8)
def spoken(text: str, gender: int | None = None) -> bytes:
    """`text` in voxcast's TTS (8 kHz PCM): the far end's words (ssmlGender 2, female: the
    sandbox's callee's voice) or the robot's own line in the task's voice (lan EN, no gender)."""
    return speak(text, choose_voice("EN", None, gender))


def seconds_of(pcm: bytes) -> float:
    return len(pcm) / (2 * RATE)


def callee_speech(words: str, lead_s: float, tail_s: float) -> bytes:
    """The far end's side of the call (8 kHz PCM from its answer): `lead_s` of silence, then
    `words` in the callee's voice, then `tail_s` of silence."""
    quiet = b"\x00\x00"
    return quiet * int(RATE * lead_s) + spoken(words, 2) + quiet * int(RATE * tail_s)


def callee_pcap(tmp_path: Path, words: str, lead_s: float, tail_s: float = 3.0) -> Path:
    """SIPp's side of the call: `lead_s` of silence, then `words`, then quiet until our BYE."""
    pcm = callee_speech(words, lead_s, tail_s)
    return write_rtp_pcap(tmp_path / "callee.pcap", g711.ulaw_encode(pcm))


async def robot_call(
    settings: Settings, pcap: Path, document: dict[str, Any]
) -> tuple[CallRecord, SipCall, SippResult]:
    """One AI group call of `document`'s script to SIPp (answer_talk.xml playing `pcap`)."""
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("answer_talk.xml", keys={"talk_pcap": str(pcap)}, timeout_s=90)
        try:
            record, call = await robot_task(rig, sipp, document)
            far = await sipp.wait(15)
        finally:
            sipp.cleanup()
    return record, call, far


async def robot_task(
    rig: SipRig, far: FarEnd, document: dict[str, Any]
) -> tuple[CallRecord, SipCall]:
    """One AI group call of `document`'s script through a trunk to `far`, run to the task's
    end: the call's record and the carrier's call."""
    script_id = await add_script(rig, document)
    await rig.route_to(far)
    task_id = await insert_task(
        rig.rt,
        rig.creds.account_id,
        rig.creds.app_id,
        [NUMBER],
        kind=TaskKind.AI,
        script_id=script_id,
        max_calls=120,
    )
    await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=120)
    [record] = await records_of(rig.rt, task_id)
    [call] = rig.calls()
    return record, call


async def add_script(rig: SipRig, document: dict[str, Any]) -> int:
    async with rig.rt.sessions.begin() as session:
        row = await scripts.add_script(session, rig.creds.account_id, document, rig.rt.clock.now())
        return row.id


def turns(record: CallRecord) -> list[dict[str, Any]]:
    assert record.conversation is not None, "the call record keeps no conversation"
    found: list[dict[str, Any]] = record.conversation["turns"]
    return found


async def test_the_robot_hears_yes_says_goodbye_and_hangs_up(
    settings: Settings, tmp_path: Path, loop_stalls: LoopStalls
) -> None:
    question_s = seconds_of(await asyncio.to_thread(spoken, QUESTION))
    # the callee answers well after the question ends, even if rendering it took a while
    lead_s = question_s + 4.0
    pcap = await asyncio.to_thread(callee_pcap, tmp_path, "Yes, speaking.", lead_s)
    record, call, far = await robot_call(settings, pcap, script_document())
    assert far.ok, far  # SIPp answered, played the words, got our BYE and answered it
    assert record.sip_code == "200" and record.answer_time is not None
    lines = turns(record)
    assert [t["speaker"] for t in lines] == ["ROBOT", "PERSON", "ROBOT"], lines
    asked, answer, goodbye = lines
    assert asked["text"] == QUESTION
    assert "yes" in answer["text"].lower() and answer["intent"] == "yes", answer
    assert goodbye["text"] == GOODBYE
    # the question played out before the callee spoke (it was not interruptible anyway), and
    # the goodbye came after the callee's words were heard
    assert asked["end_ms"] <= answer["start_ms"] < answer["end_ms"] <= goodbye["start_ms"]
    conversation = record.conversation
    assert conversation is not None
    assert conversation["intent_level"] == "A" and conversation["tags"] == ["confirmed"]
    assert conversation["hangup_by"] == "us"
    # each robot line's turn is its playing: from when it was said (after the recognizer and
    # the TTS had their time) to its end, longer by a stall of ours
    goodbye_s = seconds_of(await asyncio.to_thread(spoken, GOODBYE))
    most = 1.2 + loop_stalls.total_s
    for line, said_s in ((asked, question_s), (goodbye, goodbye_s)):
        assert said_s - 0.1 <= (line["end_ms"] - line["start_ms"]) / 1000 <= said_s + most, lines
    # the goodbye was said before the hang-up, whole: both prompts' packets went out
    sent = call.stats.rtp_sent + call.stats.rtp_dropped
    assert sent >= (question_s + goodbye_s) * 50 - 10, (sent, question_s, goodbye_s)


async def test_a_wrong_number_is_intent_level_f(settings: Settings, tmp_path: Path) -> None:
    question_s = seconds_of(await asyncio.to_thread(spoken, QUESTION))
    pcap = await asyncio.to_thread(callee_pcap, tmp_path, "No, wrong number.", question_s + 4.0)
    record, _call, far = await robot_call(settings, pcap, script_document())
    assert far.ok, far
    assert record.sip_code == "200"
    lines = turns(record)
    assert [t["speaker"] for t in lines] == ["ROBOT", "PERSON"], lines
    assert "no" in lines[1]["text"].lower() and lines[1]["intent"] == "no", lines
    conversation = record.conversation
    assert conversation is not None
    assert conversation["intent_level"] == "F" and conversation["tags"] == []


async def test_talking_over_the_question_cuts_it_short(settings: Settings, tmp_path: Path) -> None:
    question_s = seconds_of(await asyncio.to_thread(spoken, LONG_QUESTION))
    assert question_s > 5.0, question_s
    # 1 s into the question when SIPp's pcap starts at the answer (rendering the question
    # first only makes the words come earlier in it)
    pcap = await asyncio.to_thread(callee_pcap, tmp_path, "Yes, speaking.", 1.0)
    record, call, far = await robot_call(
        settings, pcap, script_document(LONG_QUESTION, interruptible=True)
    )
    assert far.ok, far
    assert record.sip_code == "200"
    lines = turns(record)
    assert [t["speaker"] for t in lines] == ["ROBOT", "PERSON", "ROBOT"], lines
    asked, answer, goodbye = lines
    assert answer["intent"] == "yes" and goodbye["text"] == GOODBYE, lines
    # the question stopped while the callee talked, not at its end
    assert asked["end_ms"] < answer["end_ms"], lines
    assert asked["end_ms"] - asked["start_ms"] < question_s * 1000 - 1000, (lines, question_s)
    conversation = record.conversation
    assert conversation is not None and conversation["intent_level"] == "A"
    # SIPp got less than the whole question and the goodbye
    goodbye_s = seconds_of(await asyncio.to_thread(spoken, GOODBYE))
    sent = call.stats.rtp_sent + call.stats.rtp_dropped
    assert sent < (question_s + goodbye_s - 1.5) * 50, (sent, question_s, goodbye_s)
    assert sent >= goodbye_s * 50 - 10, (sent, goodbye_s)
