"""The vendor's request signature rule: Sign = MD5(ApiKey + ApiSecret + Timestamp), hex."""

from __future__ import annotations

import hashlib
import hmac


def sign(api_key: str, api_secret: str, timestamp: str | int) -> str:
    """Lower-case hex MD5 of key + secret + timestamp (the docs' worked example holds)."""
    return hashlib.md5(f"{api_key}{api_secret}{timestamp}".encode()).hexdigest()


def sign_matches(api_key: str, api_secret: str, timestamp: str, given: str) -> bool:
    """Case-insensitive, constant-time comparison of a caller's Sign with the expected one."""
    expected = sign(api_key, api_secret, timestamp)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
