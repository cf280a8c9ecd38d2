"""The vendor's TTS language codes (`lan` of group-call tasks, `language` of sendCode): the 14
codes of its published table (api-catalog §7.1). voxcast.audio.voices maps each to a voice."""

from __future__ import annotations

#: code → language, in the order of the vendor's table
LANGUAGES: dict[str, str] = {
    "VN": "Vietnamese",
    "EN": "English",
    "JP": "Japanese",
    "ARB": "Arabic",
    "DE": "German",
    "IN": "Hindi",
    "IT": "Italian",
    "KR": "Korean",
    "RU": "Russian",
    "ES": "Spanish",
    "PT": "Portuguese",
    "IDN": "Indonesian",
    "BD": "Bangla (Bangladesh)",
    "TH": "Thai",
}

CODES: tuple[str, ...] = tuple(LANGUAGES)


def normalize(code: object) -> str | None:
    """The canonical (upper-case) code, or None when it is not one of the vendor's codes.

    Case is not significant: the vendor's samples write "EN", clients also send "en".
    """
    if not isinstance(code, str):
        return None
    text = code.strip().upper()
    return text if text in LANGUAGES else None
