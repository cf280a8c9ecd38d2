"""The grammar recognizer (pocketsphinx, its packaged en-us model) on telephone audio as a call
hears it: the labelled set's yes/no answers (tests/data/robot) and lines said by two TTS voices
through the phone chain (300-3400 Hz, 8 kHz, G.711 µ-law), each cut into its turn by the Ear;
heard against the built-in yes/no, digits and dates grammars."""

from __future__ import annotations

import functools

import pytest

from tests.data.robot import clips, turns
from tests.listen import OTP_CODES, phone_line
from voxcast.audio import g711
from voxcast.audio.hearing.grammar import SphinxRecognizer
from voxcast.audio.tts import choose_voice, speak
from voxcast.domain import grammars as gr

pytestmark = pytest.mark.timeout(300)

#: the issue's floor for yes/no answers (measured: 38 of 41); digits wrong at most
YES_NO_FLOOR = 0.90
DIGIT_ERROR_CEILING = 0.10
#: vendor gender codes: 2 female (festival slt), 1 male (piper joe)
GENDERS = (2, 1)
YES_NO_LINES = (
    ("Yes.", "yes"),
    ("Yeah.", "yes"),
    ("Yep, that's right.", "yes"),
    ("Sure.", "yes"),
    ("Correct.", "yes"),
    ("Yes please.", "yes"),
    ("Yeah, sure.", "yes"),
    ("No.", "no"),
    ("Nope.", "no"),
    ("No thank you.", "no"),
    ("Not really.", "no"),
    ("No, wrong number.", "no"),
)
DATE_LINES = (
    ("On Friday.", "friday"),
    ("Tomorrow.", "tomorrow"),
    ("The fifteenth.", "fifteenth"),
    ("Next Monday.", "monday"),
    ("March the twentieth.", "march"),
    ("Today.", "today"),
)
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@functools.lru_cache(maxsize=128)
def turn(text: str, gender: int) -> bytes:
    """`text` in the installed English voice of `gender`, through the phone chain, as the
    Ear's one turn of it (16-bit PCM)."""
    pcm = phone_line(speak(text, choose_voice("EN", None, gender)))
    found = turns(g711.ulaw_encode(pcm))
    assert len(found) == 1, text
    return found[0]


@pytest.fixture(scope="module")
def sphinx() -> SphinxRecognizer:
    return SphinxRecognizer()


def test_yes_and_no_are_heard_from_the_labelled_set_and_tts(sphinx: SphinxRecognizer) -> None:
    grammar = gr.Grammar(gr.YESNO)
    results: list[tuple[str, str, str]] = []
    for clip in clips():
        if clip.line.intent in ("yes", "no"):
            pcm = b"".join(turns(clip.audio))
            results.append((clip.line.text, clip.line.intent, sphinx.hear(pcm, grammar)))
    labelled = len(results)
    for gender in GENDERS:
        for text, meant in YES_NO_LINES:
            results.append((text, meant, sphinx.hear(turn(text, gender), grammar)))
    wrong = [r for r in results if r[1] != r[2]]
    print(f"\nyes/no: {len(results) - len(wrong)}/{len(results)} right; wrong: {wrong}")
    assert labelled >= 15 and len(results) >= labelled + 24
    assert (len(results) - len(wrong)) / len(results) >= YES_NO_FLOOR


def test_spoken_digit_strings_are_read_as_numerals(sphinx: SphinxRecognizer) -> None:
    grammar = gr.Grammar(gr.DIGITS)
    results: list[tuple[str, str]] = []
    for gender in GENDERS:
        for code in OTP_CODES:
            said = ", ".join(DIGIT_NAMES[int(d)] for d in code) + "."
            results.append((code, sphinx.hear(turn(said, gender), grammar)))
    wrong = [r for r in results if r[0] != r[1]]
    errors = sum(edits(code, heard) for code, heard in results)
    digits = sum(len(code) for code, _ in results)
    print(
        f"\ndigits: {len(results) - len(wrong)}/{len(results)} right, {errors}/{digits} digit "
        f"errors; wrong: {wrong}"
    )
    # measured: 8 of 12 strings right, 4 digits of 72 wrong (one each)
    assert len(wrong) <= len(results) // 2
    assert errors / digits <= DIGIT_ERROR_CEILING


def edits(said: str, heard: str) -> int:
    """The digits substituted, deleted or inserted (Levenshtein distance)."""
    row = list(range(len(heard) + 1))
    for i, a in enumerate(said, 1):
        prev, row[0] = row[0], i
        for j, b in enumerate(heard, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (a != b))
    return row[-1]


def test_dates_are_heard_in_their_words(sphinx: SphinxRecognizer) -> None:
    grammar = gr.Grammar(gr.DATES)
    results: list[tuple[str, str, str]] = []
    for gender in GENDERS:
        for text, key in DATE_LINES:
            results.append((text, key, sphinx.hear(turn(text, gender), grammar)))
    wrong = [r for r in results if r[1] not in r[2].split()]
    print(f"\ndates: {len(results) - len(wrong)}/{len(results)} right; wrong: {wrong}")
    assert len(wrong) <= len(results) // 6


def test_a_phrase_grammar_hears_its_phrases(sphinx: SphinxRecognizer) -> None:
    grammar = gr.Grammar(gr.PHRASES, ("pay now", "pay later", "talk to an agent", "£5"))
    assert sphinx.hear(turn("Pay later.", 1), grammar) == "pay later"
    assert sphinx.hear(turn("I want to talk to an agent.", 2), grammar).endswith("talk to an agent")
    # nothing it can hear: no words of the dictionary, or no audio
    assert sphinx.hear(turn("Pay later.", 1), gr.Grammar(gr.PHRASES, ("£5",))) == ""
    assert sphinx.hear(b"", grammar) == ""
