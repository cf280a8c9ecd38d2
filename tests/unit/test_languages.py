"""The vendor's 14 TTS language codes (§7.1) and the voices table that speaks them."""

from __future__ import annotations

import pytest

from voxcast.audio.voices import LANGUAGES as VOICES
from voxcast.domain import languages

VENDOR_TABLE = [
    "VN",
    "EN",
    "JP",
    "ARB",
    "DE",
    "IN",
    "IT",
    "KR",
    "RU",
    "ES",
    "PT",
    "IDN",
    "BD",
    "TH",
]


def test_the_codes_are_the_14_of_the_vendor_table_in_its_order() -> None:
    assert list(languages.CODES) == VENDOR_TABLE


def test_every_code_has_a_voice_and_no_voice_has_another_code() -> None:
    assert set(VOICES) == set(languages.CODES)


@pytest.mark.parametrize(("given", "code"), [("EN", "EN"), ("en", "EN"), (" idn ", "IDN")])
def test_codes_are_matched_without_regard_to_case(given: str, code: str) -> None:
    assert languages.normalize(given) == code


@pytest.mark.parametrize("given", ["XX", "ENG", "en-US", "", None, 1])
def test_anything_else_is_not_a_language(given: object) -> None:
    assert languages.normalize(given) is None
