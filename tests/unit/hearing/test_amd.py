"""Answering-machine detection in the style of Asterisk's app_amd, on the default detector's
frames of espeak-ng speech through G.711: a voicemail greeting is a MACHINE (its length, or its
word count when spoken word by word), a short "hello?" then waiting is HUMAN, a line that stays
silent is a MACHINE (initial silence), and the greeting's words give away the short ones."""

from __future__ import annotations

from tests.listen import phone_line
from tests.unit.hearing.speech import said, silence, ulaw
from voxcast.audio.hearing import (
    FRAME_MS,
    AmdResult,
    AmdSettings,
    AnsweringMachineDetector,
    Ear,
    Verdict,
    machine_words,
)
from voxcast.audio.tts import espeak_command

GREETING = (
    "Hi, you have reached John Smith. I cannot take your call right now. "
    "Please leave a message after the tone."
)


def classify(pcm: bytes) -> AmdResult:
    """What the Ear's detector says of a call whose callee side is `pcm` from the answer."""
    ear = Ear(amd=AmdSettings())
    payload = ulaw(pcm)
    results = [
        event
        for i in range(0, len(payload), 160)
        for event in ear.feed(payload[i : i + 160])
        if isinstance(event, AmdResult)
    ]
    assert len(results) == 1  # one verdict, once
    return results[0]


def test_a_voicemail_greeting_is_a_machine_by_its_length() -> None:
    result = classify(silence(300) + said(GREETING) + silence(3000))
    assert (result.verdict, result.cause) == (Verdict.MACHINE, "LONGGREETING-1500-1500")
    # decided while the greeting still plays (it runs 6.4 s), not after it
    assert result.at_ms < 2500


def test_a_greeting_spoken_word_by_word_is_a_machine_by_its_word_count() -> None:
    speech = espeak_command("Hello, this is Mary, leave a message", "en-us", 175, 20)
    result = classify(silence(300) + phone_line(speech.pcm, speech.sample_rate) + silence(3000))
    assert (result.verdict, result.cause) == (Verdict.MACHINE, "MAXWORDS-3-3")


def test_hello_and_waiting_is_a_human() -> None:
    audio = silence(400) + said("Hello?") + silence(3000)
    result = classify(audio)
    assert (result.verdict, result.cause) == (Verdict.HUMAN, "HUMAN-800-800")
    # within 800 ms of the end of the clip (espeak's own trailing quiet counts as silence)
    assert result.at_ms <= 400 + len(said("Hello?")) // 16 + 800


def test_two_short_words_are_still_a_human() -> None:
    result = classify(silence(300) + said("Yes, hello?") + silence(3000))
    assert (result.verdict, result.cause) == (Verdict.HUMAN, "HUMAN-800-800")


def test_a_silent_line_is_a_machine_after_the_initial_silence() -> None:
    result = classify(silence(6000))
    assert result == AmdResult(Verdict.MACHINE, "INITIALSILENCE-2500-2500", 2500)


def test_a_short_greeting_fools_the_cadence_but_not_the_words() -> None:
    result = classify(silence(300) + said("Please leave a message.") + silence(3000))
    assert result.verdict == Verdict.HUMAN  # cadence alone: a short phrase, then waiting
    assert machine_words("Please leave a message.")  # what the transcript check catches


def test_machine_words_are_the_phrases_of_greetings_not_of_people() -> None:
    for greeting in (
        GREETING,
        "The person you are calling is not available.",
        "You've reached the voicemail of 555 1234.",
        "Sorry I can't come to the phone, leave your name and number.",
        "Record your message at the tone.",
    ):
        assert machine_words(greeting), greeting
    for person in ("Hello?", "Yes, who is this?", "Speaking.", "I can pay on Friday."):
        assert not machine_words(person), person


def test_undecided_after_the_analysis_time_is_notsure() -> None:
    # 60 ms blips 60 ms apart: never a word (100 ms), never a long silence
    amd = AnsweringMachineDetector()
    pattern = ([True] * 3 + [False] * 3) * 100
    results = [r for r in (amd.feed(s) for s in pattern) if r is not None]
    assert results == [AmdResult(Verdict.NOTSURE, "TOOLONG-5000", 5000)]
    assert amd.feed(True) is None  # decided once


def test_one_endless_word_is_a_machine() -> None:
    amd = AnsweringMachineDetector(AmdSettings(greeting=60_000, total_analysis_time=60_000))
    results = [r for r in (amd.feed(True) for _ in range(300)) if r is not None]
    assert results == [AmdResult(Verdict.MACHINE, "MAXWORDLENGTH-5000", 5000)]
    assert 5000 // FRAME_MS == 250
