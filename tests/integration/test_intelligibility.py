"""Every English default voice is understood on a phone line: the reminder text and six-digit
OTP codes, rendered by voxcast for `lan` EN and ssmlGender 1 and 2, go through the telephone
chain (300-3400 Hz, 8 kHz, G.711 µ-law) and a packaged Whisper model (tiny.en) listens.
Targets (issue 14): at most 5% word errors, every code read back exactly."""

from __future__ import annotations

import pytest

from tests.listen import (
    OTP_CODES,
    OTP_TEMPLATE,
    REMINDER_CLIPS,
    Listener,
    Score,
    phone_line,
)
from voxcast.audio import choose_voice, speak
from voxcast.dialer.prompts import speak_digits

pytestmark = pytest.mark.slow

GENDERS = pytest.mark.parametrize("gender", [1, 2], ids=["male", "female"])


@pytest.fixture(scope="module")
def listener() -> Listener:
    return Listener.shared()


@GENDERS
def test_default_english_voice_has_at_most_5_percent_word_errors_on_a_phone_line(
    gender: int, listener: Listener
) -> None:
    voice = choose_voice("EN", None, gender)
    score = Score()
    heard: list[str] = []
    for clip in REMINDER_CLIPS:
        heard.append(listener.hear(phone_line(speak(clip, voice))))
        score.add_text(clip, heard[-1])
    assert score.words == 93
    assert score.wer <= 0.05, (
        f"{voice.engine} {voice.name}: {score.errors}/{score.words} words wrong "
        f"({score.wer:.1%}); heard: {' | '.join(heard)}"
    )


@GENDERS
def test_default_english_voice_reads_every_six_digit_code_back_exactly(
    gender: int, listener: Listener
) -> None:
    voice = choose_voice("EN", None, gender)
    score = Score()
    missed: dict[str, str] = {}
    for code in OTP_CODES:
        # the text voice OTP speaks (digit runs read one by one), as sendCode renders it
        pcm = speak(speak_digits(OTP_TEMPLATE.format(code=code)), voice)
        heard = listener.hear(phone_line(pcm))
        if not score.add_code(code, heard):
            missed[code] = heard
    assert missed == {}, f"{voice.engine} {voice.name} codes heard wrong: {missed}"
    assert score.codes_right == len(OTP_CODES) == 6
