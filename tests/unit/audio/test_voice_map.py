"""Which voice speaks: the installed defaults (neural/HMM English, Kokoro Japanese), the
operator's mapping (VOXCAST_VOICES), an account's mapping, wheels' entry points, refusals."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from voxcast.audio import catalog
from voxcast.audio.catalog import VoiceAddress, parse_rule, parse_rules
from voxcast.audio.errors import TtsLanguage
from voxcast.audio.tts import choose_voice, installed_voices
from voxcast.domain.codes import Code


@pytest.fixture(autouse=True)
def fresh_configuration() -> Iterator[None]:
    catalog.configured_rules.cache_clear()
    catalog.entry_point_voices.cache_clear()
    yield
    catalog.configured_rules.cache_clear()
    catalog.entry_point_voices.cache_clear()


@pytest.mark.parametrize(
    ("lan", "accent", "gender", "address"),
    [
        ("EN", None, 1, "piper:en_US-joe-medium"),
        ("EN", None, 2, "festival:cmu_us_slt_arctic_hts"),
        ("EN", None, None, "festival:cmu_us_slt_arctic_hts"),
        ("EN", "1", 1, "piper:en_US-joe-medium"),
        ("EN", "63", 2, "festival:cmu_us_slt_arctic_hts"),
        # the neural/HMM voices are American: other accents keep espeak-ng's accent voices
        ("EN", "44", 2, "espeak:gmw/en+f3"),
        ("JP", None, None, "kokoro:jf_alpha"),
        ("JP", None, 1, "kokoro:jm_kumo"),
        ("DE", None, 1, "espeak:de+m3"),
    ],
)
def test_installed_defaults(lan: str, accent: str | None, gender: int | None, address: str) -> None:
    assert choose_voice(lan, accent, gender).address == address


def test_rules_parse_and_the_most_specific_one_wins() -> None:
    rules = parse_rules(
        "# operator voices\n"
        "EN=espeak:en-us+m3; EN:44=espeak:gmw/en+m3\n"
        "EN:44:2=festival:cmu_us_slt_arctic_hts\n"
    )
    assert [(r.lan, r.locale, r.gender) for r in rules] == [
        ("EN", None, None),
        ("EN", "en-GB", None),
        ("EN", "en-GB", 2),
    ]
    assert choose_voice("EN", "44", 2, rules=rules).address == "festival:cmu_us_slt_arctic_hts"
    assert choose_voice("EN", "+44", 1, rules=rules).address == "espeak:gmw/en+m3"
    assert choose_voice("EN", "1", 2, rules=rules).address == "espeak:en-us+m3"
    assert choose_voice("DE", None, 2, rules=rules).address == "espeak:de+f3"


@pytest.mark.parametrize(
    ("key", "address", "error"),
    [
        (
            "FR",
            "espeak:fr",
            "'FR': FR is not a language (VN, EN, JP, ARB, DE, IN, IT, KR, RU, ES, PT, IDN, BD, TH)",
        ),
        ("EN:999", "espeak:en", "'EN:999': 999 is not an accent of English"),
        ("EN:*:3", "espeak:en", "'EN:*:3': the gender is 1 (male), 2 (female) or *"),
        (
            "EN",
            "mp3:/x",
            "'mp3:/x' is not a voice address (want one of espeak:..., piper:..., "
            "festival:..., kokoro:..., openai:...)",
        ),
        ("EN", "piper:", "'piper:': the voice after piper: is missing"),
    ],
)
def test_a_bad_rule_says_what_is_wrong(key: str, address: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_rule(key, address)
    assert str(caught.value) == error


def test_the_operators_mapping_comes_from_the_environment_and_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mapping = tmp_path / "voices.conf"
    mapping.write_text("# EN women get espeak\nEN:*:2=espeak:en-us+f4\n")
    monkeypatch.setenv("VOXCAST_VOICES_FILE", str(mapping))
    monkeypatch.setenv("VOXCAST_VOICES", "DE=festival:cmu_us_slt_arctic_hts")
    assert choose_voice("EN", None, 2).address == "espeak:en-us+f4"
    assert choose_voice("DE", None, 1).address == "festival:cmu_us_slt_arctic_hts"
    # an account's own rule comes before the operator's
    account = [parse_rule("EN", "piper:en_US-joe-medium")]
    assert choose_voice("EN", None, 2, rules=account).address == "piper:en_US-joe-medium"


def test_a_mapped_voice_that_is_not_installed_is_refused_naming_lan() -> None:
    rules = [parse_rule("EN:*:2", "piper:/nowhere/alba.onnx")]
    with pytest.raises(TtsLanguage) as caught:
        choose_voice("EN", None, 2, rules=rules)
    assert caught.value.code == Code.TTS_LANGUAGE
    assert caught.value.api_error(caught.value.field).reason == (
        "Failed to obtain the text language type: lan: EN: the voice mapped to EN:*:2, "
        "piper:/nowhere/alba.onnx, cannot speak here: no piper model at /nowhere/alba.onnx"
    )
    # never swapped: the male voice is unaffected, the female one is not silently replaced
    assert choose_voice("EN", None, 1, rules=rules).address == "piper:en_US-joe-medium"


def test_a_rate_the_chosen_voice_cannot_speak_is_refused_naming_speaking_rate() -> None:
    with pytest.raises(TtsLanguage) as caught:
        choose_voice("JP", None, 2, 2.5)
    assert caught.value.field == "speakingRate"
    assert caught.value.detail == "2.5 is outside what the kokoro voice speaks (0.50-2.00)"
    assert choose_voice("JP", None, 2, 2.0).rate == 2.0
    assert choose_voice("EN", None, 2, 0.25).rate == 0.25


def test_a_remote_voice_carries_the_local_default_as_its_fallback() -> None:
    rules = [parse_rule("EN", "openai:http://127.0.0.1:8880/v1?voice=af_sky")]
    voice = choose_voice("EN", None, 1, 1.25, rules=rules)
    assert (voice.engine, voice.name) == ("openai", "http://127.0.0.1:8880/v1?voice=af_sky")
    assert voice.fallback is not None
    assert (voice.fallback.address, voice.fallback.rate) == ("piper:en_US-joe-medium", 1.25)


def test_a_wheel_registers_voices_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a real installed distribution: a module and its dist-info with an entry point
    (tmp_path / "acme_voices.py").write_text(
        "def voices():\n"
        "    return [{'address': 'espeak:de+f4', 'lan': 'DE', 'accents': ['43'],\n"
        "             'gender': 2, 'licence': 'CC-BY-4.0', 'description': 'Austrian'}]\n"
        "def broken():\n"
        "    raise RuntimeError('no model')\n"
    )
    info = tmp_path / "acme_voices-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-voices\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[voxcast.voices]\nacme = acme_voices:voices\nbad = acme_voices:broken\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = [v for v in installed_voices() if v.source == "acme-voices"]
    assert [(str(v.address), v.lan, v.locales, v.licence) for v in found] == [
        ("espeak:de+f4", "DE", ("de-AT",), "CC-BY-4.0")
    ]
    assert choose_voice("DE", "43", 2).address == "espeak:de+f4"
    assert choose_voice("DE", "49", 2).address == "espeak:de+f3"
    monkeypatch.delitem(sys.modules, "acme_voices", raising=False)


def test_voice_addresses_round_trip() -> None:
    for text in (
        "espeak:en-us+f3",
        "kokoro:/m/k.onnx?voice=jm_kumo",
        "openai:https://h/v1?voice=a",
    ):
        assert str(VoiceAddress.parse(text)) == text
