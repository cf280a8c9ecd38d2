"""How the words a closed question's grammar heard become the text the intent rules match: the
first yes/no word, the digits as numerals, dates and phrases as said."""

from __future__ import annotations

import pytest

from voxcast.domain import grammars as gr


@pytest.mark.parametrize(
    ("heard", "text"),
    [
        ("yep", "yes"),
        ("yeah sure", "yes"),
        ("correct", "yes"),
        ("nope", "no"),
        ("no yes", "no"),  # the first answer word is the answer
        ("not", "no"),
        ("", ""),
    ],
)
def test_a_yes_no_answer_is_its_first_answer_word(heard: str, text: str) -> None:
    assert gr.Grammar(gr.YESNO).read(heard.split()) == text


def test_digits_are_read_as_numerals() -> None:
    assert gr.Grammar(gr.DIGITS).read(["four", "eight", "two", "oh", "one", "seven"]) == "482017"


def test_dates_and_phrases_are_read_as_said() -> None:
    assert gr.Grammar(gr.DATES).read(["on", "friday"]) == "on friday"
    assert gr.Grammar(gr.PHRASES, ("pay now",)).read(["pay", "now"]) == "pay now"


def test_phrases_are_plain_words() -> None:
    assert gr.words("That’s me, yes!") == ("that's", "me", "yes")
    assert gr.words("pay 50") is None
    assert gr.words("不要再打了") is None
    assert gr.words(" , ") is None
    grammar = gr.Grammar(gr.PHRASES, ("Pay now", "pay now.", "£5"))
    assert grammar.phrase_words() == (("pay", "now"),)


def test_every_vocabulary_is_plain_words() -> None:
    for vocabulary in gr.VOCABULARIES.values():
        assert all(gr.words(w) == (w,) for w in vocabulary)
