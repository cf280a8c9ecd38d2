"""The robot when its transcriber has no room: a sandbox callee's real audio (synthesised,
through G.711 and the voice activity detector) reaches a RobotCall whose Whisper pool is
saturated by a transcription that never ends, or times out; the turns are heard by pocketsphinx
against the node's grammar instead of going unheard. And a closed question asks for the
grammar recognizer first."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voxcast.audio.hearing.asr import RecognizerPool
from voxcast.audio.hearing.grammar import GrammarPool, SphinxRecognizer
from voxcast.clock import ScaledClock
from voxcast.dialer.conversation import Hearing, RobotCall
from voxcast.domain import scripts as sc
from voxcast.ports import DialRequest, Prompt
from voxcast.robot import dialogue as dl
from voxcast.services.scripts import example_document
from voxcast.telephony.sandbox import SandboxCarrier

pytestmark = pytest.mark.timeout(180)

SECONDS_PER_CHAR = 0.06
VARIABLES = {"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}
#: the sandbox callees who say "Yes, speaking." then "I can pay on Friday.", and "No, you
#: have the wrong number."
AGREES, DECLINES = "8613000000010", "8613000000012"


class Stalled:
    """A transcriber that does not answer until released: while it holds the pool's only
    worker, every other turn finds the pool full."""

    name = "stalled"
    concurrency = 1

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        self.calls += 1
        self.release.wait(60)
        return "I will never be heard"


class Deaf:
    """A transcriber that answers at once with words no intent has."""

    name = "deaf"
    concurrency = 1

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        self.calls += 1
        return "banana"


@pytest.fixture(scope="module")
def sphinx() -> SphinxRecognizer:
    return SphinxRecognizer()


@pytest.fixture
async def saturated() -> AsyncIterator[tuple[RecognizerPool, Stalled]]:
    stalled = Stalled()
    pool = RecognizerPool(stalled, workers=1, queue=0, timeout_s=60)
    hold = asyncio.ensure_future(pool.recognize(b"\x00\x00" * 800))
    await asyncio.sleep(0)  # the held turn takes the only worker
    assert pool.in_flight == pool.capacity == 1
    yield pool, stalled
    stalled.release.set()
    await hold
    pool.close()


async def converse(
    hearing: Hearing, document: dict[str, Any] | None = None, number: str = AGREES
) -> dl.DialogueRecord:
    clock = ScaledClock(4.0)
    script = sc.parse(document or example_document())

    async def render(text: str) -> Prompt:
        return Prompt(f"text:{text[:20]}", len(text) * SECONDS_PER_CHAR)

    robot = RobotCall(dl.Dialogue(script, VARIABLES), hearing, render, clock, language="en")
    request = DialRequest(
        callee=number,
        caller_id=None,
        prompt=Prompt("silence:", 0.0),
        max_talk_s=120,
        conversation=robot.conversation(),
    )
    call = await SandboxCarrier(clock).dial(request)
    async for _ in robot.run(call):
        pass
    return robot.dialogue.record


def persons(record: dl.DialogueRecord) -> list[tuple[str, str | None]]:
    return [(t.text, t.intent) for t in record.turns if t.speaker is dl.Speaker.PERSON]


async def test_a_saturated_transcriber_turns_go_unheard_without_a_grammar_recognizer(
    saturated: tuple[RecognizerPool, Stalled],
) -> None:
    pool, stalled = saturated
    record = await converse(Hearing(pool))
    assert pool.busy >= 1 and stalled.calls == 1
    assert all(intent is None for _, intent in persons(record))
    assert "promised-to-pay" not in record.tags


async def test_an_open_question_s_turn_stays_unheard_when_the_transcriber_is_full(
    saturated: tuple[RecognizerPool, Stalled], sphinx: SphinxRecognizer
) -> None:
    # no grammar declared: the recognizer of grammars is there but does not guess
    pool, stalled = saturated
    grammar = GrammarPool(sphinx)
    try:
        record = await converse(Hearing(pool, grammar=grammar), number=DECLINES)
    finally:
        grammar.close()
    assert pool.busy >= 1 and stalled.calls == 1
    assert all(intent is None for _, intent in persons(record)), persons(record)
    assert "wrong-number" not in record.tags


async def test_a_saturated_transcriber_turns_are_heard_by_the_nodes_keyword_grammar(
    saturated: tuple[RecognizerPool, Stalled], sphinx: SphinxRecognizer
) -> None:
    pool, stalled = saturated
    grammar = GrammarPool(sphinx)
    document = example_document()
    # the node's own keyword grammar: the phrases its answers may be
    document["nodes"]["identify"]["grammar"] = [
        "yes",
        "yes speaking",
        "that's me",
        "no",
        "wrong number",
        "no you have the wrong number",
    ]
    try:
        record = await converse(Hearing(pool, grammar=grammar), document, number=DECLINES)
    finally:
        grammar.close()
    heard = persons(record)
    # the turn was turned away by the full pool and never reached the stalled transcriber;
    # the identify node's phrase grammar heard it as a "no"
    assert pool.busy >= 1 and stalled.calls == 1
    assert [intent for _, intent in heard] == ["no"], heard
    assert record.intent_level == "F" and record.tags == ["wrong-number"]


async def test_a_transcriber_that_times_out_leaves_the_turn_to_the_grammar(
    sphinx: SphinxRecognizer,
) -> None:
    stalled = Stalled()
    pool = RecognizerPool(stalled, workers=2, queue=0, timeout_s=0.3)
    grammar = GrammarPool(sphinx)
    document = example_document()
    document["nodes"]["identify"]["grammar"] = "yesno"
    document["nodes"]["ask_date"]["grammar"] = "dates"
    try:
        record = await converse(Hearing(pool, grammar=grammar), document)
    finally:
        stalled.release.set()
        grammar.close()
        pool.close()
    heard = persons(record)
    assert stalled.calls == 2
    assert heard == [("yes", "yes"), (heard[1][0], "pay_date")], heard
    assert "friday" in heard[1][0]


async def test_a_closed_question_is_heard_by_its_grammar_first(sphinx: SphinxRecognizer) -> None:
    deaf = Deaf()
    pool = RecognizerPool(deaf, queue=4)
    grammar = GrammarPool(sphinx)
    document = example_document()
    document["nodes"]["identify"] |= {"grammar": "yesno", "grammarFirst": True}
    try:
        record = await converse(Hearing(pool, grammar=grammar), document)
    finally:
        grammar.close()
        pool.close()
    heard = persons(record)
    assert heard[0] == ("yes", "yes"), heard
    # the transcriber heard only the open question's turns (none of them understood)
    assert len(heard) >= 2 and deaf.calls == len(heard) - 1
    assert all(turn == ("banana", None) for turn in heard[1:]), heard
