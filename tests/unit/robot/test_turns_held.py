"""The robot's turn taking on a scripted call: the carrier cuts the callee's speech at half the
end-of-turn pause, the recognizer starts there, and speech within the rest of the silence
continues the same turn (its audio joined and heard again) instead of making two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from voxcast.audio.hearing.asr import RecognizerPool
from voxcast.clock import ScaledClock
from voxcast.dialer.conversation import Hearing, RobotCall
from voxcast.domain import scripts as sc
from voxcast.ports import (
    Answered,
    CalleeSaid,
    CalleeSpeaking,
    CallEvent,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
)
from voxcast.robot import dialogue as dl
from voxcast.services.scripts import example_document

pytestmark = pytest.mark.timeout(30)

VARIABLES = {"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}
FIRST, SECOND = b"\x01\x00" * 800, b"\x02\x00" * 800


class Words:
    """A recognizer that knows the two halves of one sentence and when it was asked."""

    name = "words"
    concurrency = 1

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.asked: list[tuple[bytes, float]] = []

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        self.asked.append((pcm, self.clock.monotonic()))
        return {FIRST: "Yes,", FIRST + SECOND: "Yes, this is Jack."}.get(pcm, "")


class ScriptedCall:
    """A call whose callee's events the test sends; each prompt said ends at once."""

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self.said: list[tuple[str, float]] = []
        self.spoke: asyncio.Queue[str] = asyncio.Queue()

    def now(self) -> datetime:
        return self.clock.now()

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self.queue.get()) is not None:
            yield event

    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        self.said.append((prompt.ref, self.clock.monotonic()))
        self.spoke.put_nowait(prompt.ref)
        self.queue.put_nowait(PromptDone(self.now()))

    def hush(self) -> None:
        pass

    async def hangup(self) -> None:
        self.queue.put_nowait(HungUp(self.now(), HangupBy.US, 200, "done"))
        self.queue.put_nowait(None)


async def test_a_pause_shorter_than_the_turn_s_silence_does_not_end_the_turn() -> None:
    clock = ScaledClock(10.0)
    words = Words(clock)
    pool = RecognizerPool(words)

    async def render(text: str) -> Prompt:
        return Prompt(text, 0.0)

    robot = RobotCall(
        dl.Dialogue(sc.parse(example_document()), VARIABLES),
        Hearing(pool),
        render,
        clock,
        turn_end_ms=700,
    )
    assert robot.conversation().end_of_turn_ms == 350
    call = ScriptedCall(clock)

    async def callee() -> None:
        call.queue.put_nowait(Answered(call.now()))
        await call.spoke.get()
        await clock.sleep(0.5)
        call.queue.put_nowait(CalleeSpeaking(call.now()))
        await clock.sleep(0.5)
        call.queue.put_nowait(CalleeSaid(FIRST, call.now(), call.now()))  # paused 350 ms
        await clock.sleep(0.2)  # within the remaining 350 ms: the turn goes on
        call.queue.put_nowait(CalleeSpeaking(call.now()))
        await clock.sleep(0.5)
        call.queue.put_nowait(CalleeSaid(SECOND, call.now(), call.now()))
        ended = clock.monotonic()
        await call.spoke.get()
        replies.append(call.said[1][1] - ended)
        await call.hangup()

    replies: list[float] = []
    task = asyncio.ensure_future(callee())
    try:
        async for _ in robot.run(call):  # type: ignore[arg-type]
            pass
        await task
    finally:
        pool.close()

    # heard at each pause, the second time the whole turn
    assert [pcm for pcm, _ in words.asked] == [FIRST, FIRST + SECOND]
    persons = [t for t in robot.dialogue.record.turns if t.speaker is dl.Speaker.PERSON]
    assert [(t.text, t.intent) for t in persons] == [("Yes, this is Jack.", "yes")]
    # the reply waited out the rest of the turn's silence, not a second recognition after it
    assert 0.35 - 0.05 <= replies[0] <= 0.35 + 0.3, replies


GREETING = b"\x03\x00" * 1600


class Greeting(Words):
    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        return "Hi, you've reached Jack. Please leave a message after the tone."


async def first_turn_is_a_greeting(screen_machines: bool) -> dl.DialogueRecord:
    clock = ScaledClock(10.0)
    pool = RecognizerPool(Greeting(clock))

    async def render(text: str) -> Prompt:
        return Prompt(text, 0.0)

    robot = RobotCall(
        dl.Dialogue(sc.parse(example_document()), VARIABLES),
        Hearing(pool),
        render,
        clock,
        screen_machines=screen_machines,
    )
    call = ScriptedCall(clock)

    async def machine() -> None:
        call.queue.put_nowait(Answered(call.now()))
        await call.spoke.get()
        call.queue.put_nowait(CalleeSpeaking(call.now()))
        await clock.sleep(0.3)
        call.queue.put_nowait(CalleeSaid(GREETING, call.now(), call.now()))
        # the robot answers (or hangs up on a machine) within the turn's hold and its reply
        await clock.sleep(2.0)
        await call.hangup()

    task = asyncio.ensure_future(machine())
    try:
        async for _ in robot.run(call):  # type: ignore[arg-type]
            pass
        await task
    finally:
        pool.close()
    return robot.dialogue.record


async def test_a_greeting_s_words_take_the_voicemail_branch_when_detection_is_on() -> None:
    record = await first_turn_is_a_greeting(screen_machines=True)
    assert record.voicemail and record.tags == ["voicemail"] and record.intent_level == "E"
    assert not [t for t in record.turns if t.speaker is dl.Speaker.PERSON]


async def test_without_detection_a_greeting_is_only_what_the_callee_said() -> None:
    record = await first_turn_is_a_greeting(screen_machines=False)
    assert not record.voicemail and "voicemail" not in record.tags
    persons = [t.text for t in record.turns if t.speaker is dl.Speaker.PERSON]
    assert persons == ["Hi, you've reached Jack. Please leave a message after the tone."]
