"""Voice OTP: digit runs are read one digit at a time."""

from __future__ import annotations

from voxcast.dialer.prompts import speak_digits


def test_digit_runs_are_spelled_out_with_pauses() -> None:
    assert speak_digits("your otp is 1264") == "your otp is 1, 2, 6, 4"


def test_single_digits_and_words_are_left_alone() -> None:
    assert speak_digits("press 1 to confirm") == "press 1 to confirm"
    assert speak_digits("code 1 2 6 4") == "code 1 2 6 4"
