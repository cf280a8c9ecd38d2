"""Answering-machine detection's terms: its settings (Asterisk app_amd's knobs), its verdict
and cause, and what a task asks to be done when a machine answers (docs/compliance.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Verdict(StrEnum):
    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"


class AmdAction(IntEnum):
    """amdAction: what a call does when a machine answers."""

    HANG_UP = 0  # end the call at once
    VOICEMAIL_DROP = 1  # wait for the greeting's beep, play the message once, hang up


@dataclass(frozen=True)
class AmdSettings:
    """app_amd's knobs, in ms, with its usual defaults (webitel and others ship the same)."""

    initial_silence: int = 2500  # silence before any word: a machine waiting to play
    greeting: int = 1500  # voice in the greeting beyond this: a machine's long greeting
    after_greeting_silence: int = 800  # silence after the first words: a person waiting
    total_analysis_time: int = 5000  # no decision by then: NOTSURE
    minimum_word_length: int = 100  # voice shorter than this is no word
    between_words_silence: int = 50  # silence that separates two words
    maximum_number_of_words: int = 3  # this many words: a machine
    maximum_word_length: int = 5000  # one word this long: a machine (or a tone)


@dataclass(frozen=True)
class AmdResult:
    """The verdict, its cause in app_amd's form (e.g. "MAXWORDS-3-3", "HUMAN-800-800",
    "INITIALSILENCE-2500-2500", "LONGGREETING-1500-1500", "TOOLONG-5000"), and when it was
    reached, counted from the answer."""

    verdict: Verdict
    cause: str
    at_ms: int


@dataclass(frozen=True)
class GreetingOver:
    """After a MACHINE verdict: the greeting is over and a message may be left, `at_ms` from
    the answer; `how` is "beep" (a steady tone ended), "silence" (no beep came, the line went
    quiet) or "timeout" (neither within the longest wait)."""

    at_ms: int
    how: str
