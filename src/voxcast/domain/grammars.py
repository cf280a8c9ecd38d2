"""Closed-question grammars for the grammar recognizer (pocketsphinx, English): the built-in
yes/no, digits and dates vocabularies, a node's own phrases, and how the words a grammar heard
are read back into the text the intent rules match (docs/ai.md#grammars)."""

from __future__ import annotations

import re
from dataclasses import dataclass

YESNO, DIGITS, DATES, PHRASES = "yesno", "digits", "dates", "phrases"
#: the grammars a node names by a string
BUILT_IN = (YESNO, DIGITS, DATES)

#: an answer word of a yes/no question and what it means; the first one heard is the answer
YES_WORDS = ("yes", "yeah", "yep", "sure", "correct")
NO_WORDS = ("no", "nope", "nah", "not", "nobody", "wrong")
DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
#: "the twenty first": the ordinals of a month's days as they are said, in words
ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "thirtieth",
    "twenty",
    "thirty",
)
DATE_WORDS = (
    *WEEKDAYS,
    *MONTHS,
    *ORDINALS,
    "today",
    "tomorrow",
    "tonight",
    "the",
    "of",
    "on",
    "next",
    "this",
    "week",
    "day",
    "after",
)
VOCABULARIES: dict[str, tuple[str, ...]] = {
    YESNO: YES_WORDS + NO_WORDS,
    DIGITS: tuple(DIGIT_WORDS),
    DATES: DATE_WORDS,
}
#: letters and apostrophes, the words a pronouncing dictionary has; what a phrase may hold
#: besides spaces and the punctuation `words` drops
_WORD = re.compile(r"^[a-z]+(?:'[a-z]+)*$")
_PUNCTUATION = re.compile(r"[.,!?;:\"]")


def hears(language: str | None) -> bool:
    """Whether the grammar recognizer hears a script of this `language` (English, or none)."""
    return language is None or language.strip().lower().split("-")[0] in ("en", "")


def words(phrase: str) -> tuple[str, ...] | None:
    """The words of a phrase, lower-cased, punctuation dropped; None when a word is not made
    of letters (digits, symbols, another script: no English dictionary says them)."""
    out = tuple(_PUNCTUATION.sub(" ", phrase.replace("\u2019", "'").lower()).split())
    if not out or not all(_WORD.match(w) for w in out):
        return None
    return out


@dataclass(frozen=True)
class Grammar:
    """What a closed question's answer may be: `kind` one of `BUILT_IN` (its vocabulary) or
    `PHRASES` (`phrases`); any of them, in any order and number. A phrase that is not plain
    words is never heard."""

    kind: str
    phrases: tuple[str, ...] = ()

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return VOCABULARIES.get(self.kind, ())

    def phrase_words(self) -> tuple[tuple[str, ...], ...]:
        """The phrases that can be heard, as words, without repeats, in order."""
        found = (words(p) for p in self.phrases)
        return tuple(dict.fromkeys(w for w in found if w is not None))

    def read(self, heard: list[str]) -> str:
        """The text the intent rules get from the words the grammar heard: yes/no → "yes" or
        "no" (its first answer word), digits → the numerals ("482917"), dates and phrases →
        the words."""
        if self.kind == YESNO:
            answer = next((w for w in heard if w in YES_WORDS or w in NO_WORDS), None)
            return "" if answer is None else ("yes" if answer in YES_WORDS else "no")
        if self.kind == DIGITS:
            return "".join(DIGIT_WORDS[w] for w in heard if w in DIGIT_WORDS)
        return " ".join(heard)
