"""Push signatures (a voxcast extension): HMAC-SHA256 over "<timestamp>.<body>".

Headers: `X-Voxcast-Timestamp: <unix seconds>` and `X-Voxcast-Signature: sha256=<hex>`.
Receivers verify with `verify()` (or the snippet in docs/webhooks.md) and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Voxcast-Timestamp"
SIGNATURE_HEADER = "X-Voxcast-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str, body: bytes, header: str, now: float, tolerance: float = 300
) -> bool:
    """True when the signature matches and the timestamp is within `tolerance` seconds."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header.strip())
