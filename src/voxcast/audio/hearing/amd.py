"""Answering-machine detection from the cadence of the first seconds after the answer, the rules
of Asterisk's app_amd on voice activity frames (a person says "hello?" and waits; a greeting runs
on, word after word), plus the phrases voicemail greetings are made of, for a transcript."""

from __future__ import annotations

import re

from voxcast.audio.hearing.vad import FRAME_MS
from voxcast.domain.amd import AmdResult, AmdSettings, Verdict

__all__ = ["AmdResult", "AmdSettings", "AnsweringMachineDetector", "Verdict", "machine_words"]


class AnsweringMachineDetector:
    """Feed one frame's voice activity at a time from the answer on; returns the result once,
    on the frame that decides it, and None before and after."""

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = settings or AmdSettings()
        self.result: AmdResult | None = None
        self._total = 0
        self._silence = 0
        self._voice = 0
        self._consecutive_voice = 0
        self._words = 0
        self._in_word = False
        self._initial_silence = True
        self._in_greeting = False

    def feed(self, speech: bool) -> AmdResult | None:
        if self.result is not None:
            return None
        s = self.settings
        self._total += FRAME_MS
        if self._total >= s.total_analysis_time:
            return self._decide(Verdict.NOTSURE, f"TOOLONG-{self._total}")
        if not speech:
            self._silence += FRAME_MS
            if self._silence >= s.between_words_silence:
                self._in_word = False
                self._consecutive_voice = 0
            if self._initial_silence and self._silence >= s.initial_silence:
                return self._decide(
                    Verdict.MACHINE, f"INITIALSILENCE-{self._silence}-{s.initial_silence}"
                )
            if self._in_greeting and self._silence >= s.after_greeting_silence:
                return self._decide(
                    Verdict.HUMAN, f"HUMAN-{self._silence}-{s.after_greeting_silence}"
                )
            return None
        self._consecutive_voice += FRAME_MS
        self._voice += FRAME_MS
        if self._consecutive_voice >= s.minimum_word_length and not self._in_word:
            self._words += 1
            self._in_word = True
        if self._consecutive_voice >= s.maximum_word_length:
            return self._decide(Verdict.MACHINE, f"MAXWORDLENGTH-{self._consecutive_voice}")
        if self._words >= s.maximum_number_of_words:
            return self._decide(
                Verdict.MACHINE, f"MAXWORDS-{self._words}-{s.maximum_number_of_words}"
            )
        if self._in_greeting and self._voice >= s.greeting:
            return self._decide(Verdict.MACHINE, f"LONGGREETING-{self._voice}-{s.greeting}")
        if self._voice >= s.minimum_word_length:
            self._silence = 0
        if self._consecutive_voice >= s.minimum_word_length and not self._in_greeting:
            self._initial_silence = False
            self._in_greeting = True
        return None

    def _decide(self, verdict: Verdict, cause: str) -> AmdResult:
        self.result = AmdResult(verdict, cause, self._total)
        return self.result


#: what voicemail greetings say and people answering a call do not
_MACHINE_PHRASES = re.compile(
    r"leave (?:me |us )?(?:a |your )?(?:message|name|number)|after the (?:tone|beep)"
    r"|voice ?mail|mailbox|(?:is|am|are) (?:not |un)available|can(?:no|')t (?:take|come to|answer)"
    r"|not able to (?:take|answer)|you(?:'ve| have) reached"
    r"|record your message|at the tone"
)


def machine_words(transcript: str) -> bool:
    """Whether a transcript of the first words sounds like a voicemail greeting: confirms a
    NOTSURE or catches a short greeting that cadence alone took for a person."""
    text = transcript.lower().replace("’", "'")
    return _MACHINE_PHRASES.search(text) is not None
