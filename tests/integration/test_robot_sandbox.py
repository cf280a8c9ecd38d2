"""The robot on sandbox calls, without a database: the example script's conversation with each
speaking callee of the sandbox (docs/sandbox.md), their words synthesised, heard by the voice
activity detector, transcribed by the packaged Whisper model and understood by the intent
rules; and the commands carried out on the call."""

from __future__ import annotations

import asyncio

import pytest

from voxcast.audio.hearing.asr import RecognizerPool, recognizer_from_env
from voxcast.clock import ScaledClock
from voxcast.dialer.conversation import Hearing, RobotCall, summary
from voxcast.domain import scripts as sc
from voxcast.domain.amd import AmdSettings
from voxcast.ports import CallEvent, DialRequest, HungUp, Prompt
from voxcast.robot import dialogue as dl
from voxcast.services.scripts import example_document
from voxcast.telephony.sandbox import SandboxCarrier

pytestmark = pytest.mark.timeout(120)

#: a robot's line lasts this long per character (about espeak-ng's pace)
SECONDS_PER_CHAR = 0.06
VARIABLES = {"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}


@pytest.fixture(scope="module")
def pool() -> RecognizerPool:
    return RecognizerPool(recognizer_from_env({}), queue=8)


async def converse(
    number: str,
    pool: RecognizerPool,
    speed: float = 4.0,
    amd: AmdSettings | None = None,
    render_s: float = 0.0,
) -> tuple[dl.DialogueRecord, list[CallEvent], list[str]]:
    clock = ScaledClock(speed)
    script = sc.parse(example_document())
    said: list[str] = []
    listed: list[str] = []

    async def render(text: str) -> Prompt:
        await clock.sleep(render_s)  # a TTS engine's time, on the call's clock
        said.append(text)
        return Prompt(f"text:{len(said)}", len(text) * SECONDS_PER_CHAR)

    async def opt_out() -> None:
        listed.append(number)

    robot = RobotCall(
        dl.Dialogue(script, VARIABLES),
        Hearing(pool),
        render,
        clock,
        language="en",
        opt_out=opt_out,
    )
    carrier = SandboxCarrier(clock)
    request = DialRequest(
        callee=number,
        caller_id=None,
        prompt=Prompt("silence:", 0.0),
        max_talk_s=120,
        conversation=robot.conversation(),
        amd=amd,
    )
    call = await carrier.dial(request)
    events = [e async for e in robot.run(call)]
    return robot.dialogue.record, events, listed


def persons(record: dl.DialogueRecord) -> list[tuple[str, str | None]]:
    return [(t.text, t.intent) for t in record.turns if t.speaker is dl.Speaker.PERSON]


async def test_a_callee_who_agrees_confirms_then_promises_a_date(pool: RecognizerPool) -> None:
    record, events, _ = await converse("8613000000010", pool)
    assert [type(e) for e in events][-1] is HungUp
    heard = persons(record)
    assert [intent for _, intent in heard] == ["yes", "pay_date"], heard
    assert "friday" in heard[1][0].lower()
    assert record.intent_level == "A" and "promised-to-pay" in record.tags
    assert record.hangup_by is not None and record.hangup_by.value == "us"
    assert record.chat_rounds == 2
    assert summary(record)["turns"][0]["speaker"] == "ROBOT"


async def test_a_robot_line_starts_when_it_is_said_not_when_it_was_asked_for(
    pool: RecognizerPool,
) -> None:
    record, _, _ = await converse("8613000000010", pool, render_s=1.5)
    turns = record.turns
    assert [t.speaker for t in turns][:3] == [dl.Speaker.ROBOT, dl.Speaker.PERSON, dl.Speaker.ROBOT]
    for line in (t for t in turns if t.speaker is dl.Speaker.ROBOT):
        assert line.end_ms is not None
        # each line plays its length after its rendering, and its turn is just that
        said_s = len(line.text) * SECONDS_PER_CHAR
        assert said_s - 0.1 <= (line.end_ms - line.start_ms) / 1000 <= said_s + 0.5, line
    # the first line began once rendered, the reply once rendered after the callee's words
    assert turns[0].start_ms >= 1500
    assert turns[1].end_ms is not None and turns[2].start_ms >= turns[1].end_ms + 1500


async def test_a_callee_who_declines_is_a_wrong_number(pool: RecognizerPool) -> None:
    record, _, _ = await converse("8613000000012", pool)
    assert [intent for _, intent in persons(record)] == ["no"]
    assert record.intent_level == "F" and record.tags == ["wrong-number"]


async def test_who_is_this_is_answered_then_the_question_again(pool: RecognizerPool) -> None:
    record, _, _ = await converse("8613000000013", pool)
    heard = persons(record)
    assert [intent for _, intent in heard][:3] == ["who_is_this", "yes", "pay_date"], heard
    robot_lines = [t.text for t in record.turns if t.speaker is dl.Speaker.ROBOT]
    assert any("billing assistant" in line for line in robot_lines)
    assert record.intent_level == "A"


async def test_keys_answer_the_robot(pool: RecognizerPool) -> None:
    record, _, _ = await converse("8613000000011", pool)
    assert record.keys[:1] == ["1"]
    assert persons(record) == []


async def test_a_silent_callee_hears_the_retry_then_goodbye(pool: RecognizerPool) -> None:
    record, _, _ = await converse("8613000000019", pool, speed=8.0)
    robot_lines = [t.text for t in record.turns if t.speaker is dl.Speaker.ROBOT]
    assert any(line.startswith("Sorry, I did not catch that") for line in robot_lines)
    assert robot_lines[-1].startswith("We could not hear you")
    assert record.tags == ["no-response"] and record.intent_level == "E"


async def test_a_callee_talking_over_the_prompt_stops_it(pool: RecognizerPool) -> None:
    record, events, _ = await converse("8613000000080", pool)
    assert any(type(e).__name__ == "BargedIn" for e in events)
    heard = persons(record)
    assert [intent for _, intent in heard] == ["call_later"], heard
    assert record.tags == ["call-later"] and record.intent_level == "D"


async def test_a_spoken_opt_out_lists_the_number(pool: RecognizerPool) -> None:
    record, _, listed = await converse("8613000000070", pool)
    assert listed == ["8613000000070"]
    assert record.opted_out
    robot_lines = [t.text for t in record.turns if t.speaker is dl.Speaker.ROBOT]
    assert "not call you again" in robot_lines[-1]


async def test_many_conversations_at_once_share_the_recognizer(pool: RecognizerPool) -> None:
    numbers = [f"86130000001{i}0" for i in range(6)]
    results = await asyncio.gather(*(converse(n, pool) for n in numbers))
    for record, _, _ in results:
        assert [intent for _, intent in persons(record)] == ["yes", "pay_date"]


async def test_an_answering_machine_gets_the_voicemail_branch(pool: RecognizerPool) -> None:
    # with detection on, a second-to-last digit 9 is a machine: its greeting is judged by the
    # real detector while the robot's first prompt plays
    record, events, _ = await converse("8613000000090", pool, amd=AmdSettings())
    assert any(type(e).__name__ == "AmdDecided" for e in events)
    assert record.voicemail and record.tags == ["voicemail"] and record.intent_level == "E"
    assert persons(record) == []
    assert record.sms and record.sms[0].startswith("Hello Jack, a payment of 42 dollars")
