"""Identifier formats the vendor uses: voice file ids, voice (call record) ids, SMS msgids."""

from __future__ import annotations

import secrets
from datetime import datetime


def voice_file_id(now: datetime, extension: str) -> str:
    """`1` + yyyyMMdd + 32 hex + `.ext`, the shape of the vendor's voiceFileId."""
    ext = extension.lower().lstrip(".")
    return f"1{now:%Y%m%d}{secrets.token_hex(16)}.{ext}"


def voice_id(now: datetime, sequence: int) -> str:
    """yyMMddHHmmss + a 7-digit sequence, the 19-digit shape of the vendor's voiceId."""
    return f"{now:%y%m%d%H%M%S}{sequence % 10_000_000:07d}"


def api_key() -> str:
    """A 32-character alphanumeric API key, like the vendor's newer keys."""
    return _alnum(32)


def api_secret() -> str:
    """A 32-character alphanumeric API secret."""
    return _alnum(32)


def app_id() -> str:
    """An 8-character app id, like `iaAJ6COV`."""
    return _alnum(8)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _alnum(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def sms_msg_id(now: datetime) -> str:
    """yyMMddHHmmss + 7 random digits: the 19-digit shape of the vendor's SMS msgid."""
    return f"{now:%y%m%d%H%M%S}{secrets.randbelow(10_000_000):07d}"
