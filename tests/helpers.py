"""Small helpers for tests: signed raw headers."""

from __future__ import annotations

from voxcast.domain.signing import sign


def signed_headers(api_key: str, api_secret: str, timestamp: int, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": api_key,
        "Timestamp": str(timestamp),
        "Sign": sign(api_key, api_secret, timestamp),
    }
    headers.update(extra)
    return headers
