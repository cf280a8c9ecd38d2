"""The vendor's TTS parameters (`lan`, `accent`, `ssmlGender`, `speakingRate`) → a locale and an
espeak-ng voice. The table here is the one docs/tts.md shows; a test keeps the two in step."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from voxcast.audio.errors import TtsLanguage, TtsRequired


class Gender(IntEnum):
    """`ssmlGender` values."""

    MALE = 1
    FEMALE = 2


#: when the caller gives no `ssmlGender` (the vendor: "Female when several voices exist")
DEFAULT_GENDER = Gender.FEMALE
#: espeak-ng variants for each gender
ESPEAK_VARIANT = {Gender.FEMALE: "f3", Gender.MALE: "m3"}

MIN_RATE, MAX_RATE = 0.25, 4.0
#: espeak-ng speed at speakingRate 1 (its own default), words per minute
ESPEAK_BASE_WPM = 175
#: espeak-ng refuses slower than 80 wpm; above ~700 wpm (sonic speed-up) words blur together
ESPEAK_MIN_WPM, ESPEAK_MAX_WPM = 80, 700


@dataclass(frozen=True)
class Locale:
    """One accent of a language: its BCP-47 tag and the espeak-ng voice that speaks it."""

    tag: str
    espeak: str
    note: str = ""


@dataclass(frozen=True)
class Language:
    """A vendor language code, its default locale, and its accents by country calling code."""

    code: str
    name: str
    default: Locale
    accents: dict[str, Locale] = field(default_factory=dict)

    def locale_for(self, accent: str | int | None) -> Locale:
        """The accent's locale; a missing accent, or one this language does not have (the
        vendor's own sample sends VN with accent 91), gets the language's default: the
        accent table is the vendor's guess-work (api-catalog §7.2), so it selects a locale
        when it can and is otherwise no part of the request."""
        return self.find_locale(accent) or self.default

    def find_locale(self, accent: str | int | None) -> Locale | None:
        """The accent's locale, the default for a missing one, None for an unknown one."""
        if accent is None or not str(accent).strip():
            return self.default
        text = str(accent).strip()
        for locale in (self.default, *self.accents.values()):
            if text.lower() == locale.tag.lower():
                return locale  # a BCP-47 tag given as the accent
        digits = text.lstrip("+")
        if digits.startswith("00"):
            digits = digits[2:]
        return self.accents.get(digits)


def _lang(code: str, name: str, default: Locale, **accents: Locale) -> Language:
    # accents are given as c<calling code>=Locale, since keyword names cannot start with a digit
    return Language(code, name, default, {k[1:]: v for k, v in accents.items()})


_EN_US = Locale("en-US", "en-us")
_EN_GB = Locale("en-GB", "gmw/en")
_PT_BR = Locale("pt-BR", "pt-br")
_PT_PT = Locale("pt-PT", "pt")
_NO_EN_VOICE = "espeak-ng has no voice for this accent; British English is the closest"

#: every language code of the vendor's list (api-catalog §7.1)
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        _lang("VN", "Vietnamese", Locale("vi-VN", "vi", "Northern"), c84=Locale("vi-VN", "vi")),
        _lang(
            "EN",
            "English",
            _EN_US,
            c1=_EN_US,
            c44=_EN_GB,
            c91=Locale("en-IN", "gmw/en", _NO_EN_VOICE),
            c61=Locale("en-AU", "gmw/en", _NO_EN_VOICE),
            c64=Locale("en-NZ", "gmw/en", _NO_EN_VOICE),
            c353=Locale("en-IE", "gmw/en", _NO_EN_VOICE),
            c27=Locale("en-ZA", "gmw/en", _NO_EN_VOICE),
            c65=Locale("en-SG", "gmw/en", _NO_EN_VOICE),
            c234=Locale("en-NG", "gmw/en", _NO_EN_VOICE),
            c63=Locale("en-PH", "en-us", "American English is the closest"),
            c1876=Locale("en-JM", "en-029", "Caribbean English (NANP area code 876)"),
        ),
        _lang("JP", "Japanese", Locale("ja-JP", "ja", "reads kana; kanji are not read")),
        _lang("ARB", "Arabic", Locale("ar-XA", "ar", "Modern Standard Arabic")),
        _lang(
            "DE",
            "German",
            Locale("de-DE", "de"),
            c49=Locale("de-DE", "de"),
            c43=Locale("de-AT", "de"),
            c41=Locale("de-CH", "de"),
        ),
        _lang("IN", "Hindi", Locale("hi-IN", "hi"), c91=Locale("hi-IN", "hi")),
        _lang("IT", "Italian", Locale("it-IT", "it"), c39=Locale("it-IT", "it")),
        _lang("KR", "Korean", Locale("ko-KR", "ko"), c82=Locale("ko-KR", "ko")),
        _lang(
            "RU",
            "Russian",
            Locale("ru-RU", "ru"),
            c7=Locale("ru-RU", "ru"),
            c371=Locale("ru-LV", "ru-lv"),
        ),
        _lang(
            "ES",
            "Spanish",
            Locale("es-ES", "es"),
            c34=Locale("es-ES", "es"),
            c52=Locale("es-MX", "es-419"),
            c1=Locale("es-US", "es-419"),
            c54=Locale("es-AR", "es-419"),
            c57=Locale("es-CO", "es-419"),
            c56=Locale("es-CL", "es-419"),
            c51=Locale("es-PE", "es-419"),
            c58=Locale("es-VE", "es-419"),
            c593=Locale("es-EC", "es-419"),
            c502=Locale("es-GT", "es-419"),
            c53=Locale("es-CU", "es-419"),
            c591=Locale("es-BO", "es-419"),
            c595=Locale("es-PY", "es-419"),
            c598=Locale("es-UY", "es-419"),
            c506=Locale("es-CR", "es-419"),
            c507=Locale("es-PA", "es-419"),
            c503=Locale("es-SV", "es-419"),
            c504=Locale("es-HN", "es-419"),
            c505=Locale("es-NI", "es-419"),
        ),
        _lang(
            "PT",
            "Portuguese",
            _PT_BR,
            c55=_PT_BR,
            c351=_PT_PT,
            c244=Locale("pt-AO", "pt"),
            c258=Locale("pt-MZ", "pt"),
        ),
        _lang("IDN", "Indonesian", Locale("id-ID", "id"), c62=Locale("id-ID", "id")),
        _lang(
            "BD",
            "Bangla",
            Locale("bn-BD", "bn"),
            c880=Locale("bn-BD", "bn"),
            c91=Locale("bn-IN", "bn"),
        ),
        _lang("TH", "Thai", Locale("th-TH", "th"), c66=Locale("th-TH", "th")),
    )
}


@dataclass(frozen=True)
class Voice:
    """A fully resolved voice: which engine speaks, with which of its voices, how fast.

    `name` is the engine's own voice id, the part of the voice address after the scheme: an
    espeak-ng voice with its variant ("gmw/en+f3"), a piper model id or path, a festival
    voice, a kokoro voice, a speech server URL. `fallback` is the local voice a remote one
    falls back to. Frozen and plain, so it crosses process pools.
    """

    lan: str
    locale: str
    gender: Gender
    rate: float
    engine: str
    name: str
    fallback: Voice | None = None

    @property
    def address(self) -> str:
        """The voice address (`piper:/x.onnx`, `espeak:en-us+f3`, ...; see catalog.py)."""
        scheme = "espeak" if self.engine == "espeak-ng" else self.engine
        return f"{scheme}:{self.name}"


@dataclass(frozen=True)
class Speech:
    """What an engine hands back: 16-bit mono PCM at the engine's own rate."""

    pcm: bytes
    sample_rate: int


@dataclass(frozen=True)
class VoiceRequest:
    """What the caller asked for, normalised: a known language, a locale, gender and rate."""

    language: Language
    locale: Locale
    gender: Gender
    gender_given: bool
    rate: float


def parse_request(
    lan: str | None,
    accent: str | int | None = None,
    ssml_gender: int | str | None = None,
    speaking_rate: float | str | None = None,
) -> VoiceRequest:
    """Normalise the vendor fields. Missing `lan` → TtsRequired (-38); an unknown one →
    TtsLanguage (-39). Gender other than 1/2 → the default; rate is clamped to 0.25-4."""
    if lan is None or not str(lan).strip():
        raise TtsRequired("the language is missing")
    code = str(lan).strip().upper()
    language = LANGUAGES.get(code)
    if language is None:
        known = ", ".join(LANGUAGES)
        raise TtsLanguage(f"{lan} is not a supported language ({known})")
    gender = DEFAULT_GENDER
    given = False
    if ssml_gender not in (None, ""):
        try:
            gender = Gender(int(str(ssml_gender)))
            given = True
        except ValueError:
            gender = DEFAULT_GENDER
    rate = 1.0
    if speaking_rate not in (None, ""):
        try:
            rate = float(str(speaking_rate))
        except ValueError:
            rate = 1.0
        if not rate > 0:  # also NaN
            rate = 1.0
    rate = min(MAX_RATE, max(MIN_RATE, rate))
    return VoiceRequest(language, language.locale_for(accent), gender, given, rate)


def espeak_voice_name(locale: Locale, gender: Gender) -> str:
    return f"{locale.espeak}+{ESPEAK_VARIANT[gender]}"


def espeak_wpm(rate: float) -> int:
    """speakingRate → espeak-ng words per minute, clamped to what espeak-ng speaks well."""
    return max(ESPEAK_MIN_WPM, min(ESPEAK_MAX_WPM, round(ESPEAK_BASE_WPM * rate)))


#: what one unit of espeak-ng's word gap adds per word at 80 wpm: nominally 10 ms at its
#: default speed, stretched with the speed; measured with espeak-ng 1.51 (32-41 ms)
ESPEAK_GAP_UNIT_S = 0.034


def espeak_word_gap(rate: float) -> int:
    """Pause added between words, in espeak-ng's units, for rates below its 80 wpm floor:
    each word then takes about as long as it would at 175 x rate words a minute."""
    wanted = ESPEAK_BASE_WPM * rate
    if wanted >= ESPEAK_MIN_WPM:
        return 0
    return round((60 / wanted - 60 / ESPEAK_MIN_WPM) / ESPEAK_GAP_UNIT_S)
