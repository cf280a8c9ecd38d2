"""The intelligibility tools of tests/listen.py: the telephone chain keeps the voice band and
drops the rest, the text normalisation, and the scoring of words and OTP codes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.listen import (
    REMINDER,
    Score,
    band_pass,
    digits_heard,
    normalize,
    number_words,
    phone_line,
    word_errors,
)


def tone(freq: float, rate: int = 8000, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (10000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def level(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize(
    ("freq", "low", "high"),
    [(1000.0, 0.99, 1.01), (300.0, 0.70, 0.72), (3400.0, 0.70, 0.72), (100.0, 0.0, 0.02)],
)
def test_band_pass_keeps_the_voice_band_and_drops_what_a_phone_line_drops(
    freq: float, low: float, high: float
) -> None:
    # 4th-order Butterworth edges: -3 dB (×0.707) at each corner; at 100 Hz the high-pass
    # gives 1 / sqrt(1 + (300/100)^8) = ×0.0123
    ratio = level(band_pass(tone(freq))) / level(tone(freq))
    assert low <= ratio <= high, ratio


def test_phone_line_resamples_to_8_khz_and_goes_through_ulaw() -> None:
    out = phone_line(tone(1000.0, rate=16000), 16000)
    assert len(out) == 16000  # one second, 8,000 samples of 2 bytes
    assert 0.95 <= level(out) / level(tone(1000.0)) <= 1.05


def test_numbers_amounts_and_ordinals_become_words() -> None:
    assert number_words(86) == "eighty six"
    assert number_words(2305) == "two thousand three hundred five"
    assert " ".join(normalize("Your bill of $86.40 was due on March 12th, OK?")) == (
        "your bill of eighty six dollars forty cents was due on march twelfth ok"
    )
    assert normalize("86 dollars and 40 cents, the 21st") == (
        ["eighty", "six", "dollars", "forty", "cents", "the", "twenty", "first"]
    )
    assert len(normalize(REMINDER)) == 93


def test_word_errors_count_substitutions_deletions_and_insertions() -> None:
    assert word_errors("Your latest bill was due.", "your latest wheel was due") == (1, 5)
    assert word_errors("Pay online today.", "pay on line today") == (2, 3)
    assert word_errors("Thank you.", "") == (2, 2)


def test_a_code_counts_only_when_exactly_its_digits_are_heard() -> None:
    assert digits_heard("Your code is 4-8-2, nine one seven.") == "482917"
    assert digits_heard("zero two oh") == "020"
    score = Score()
    assert score.add_code("482917", "Your verification code is 4, 8, 2, 9, 1, 7.")
    assert not score.add_code("482917", "Your verification code is 482 911.")
    assert not score.add_code("482917", "Your code is 4, 8, 2, 9, 1, 7, 7.")
    assert (score.codes_right, score.codes) == (1, 3)
