"""One SMSC as the SMPP transport binds to it: address, credentials, addressing and pacing
(docs/smpp.md); stored by `voxcast admin smsc add`, or given as an smpp:// URL."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class SmscConfig:
    """Where and how to bind: the SMSC's address and credentials, the addressing of our
    sender ids and callees, and the pacing the carrier allows."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    # None: alphanumeric sender ids go as TON 5 / NPI 0, digits as international (1 / 1)
    source_addr_ton: int | None = None
    source_addr_npi: int | None = None
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    window: int = 10  # submit_sm sent and not yet answered
    rate_per_s: float = 50.0  # submit_sm per second, every segment counts
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0  # bind and enquire_link answers
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    retry_min_s: float = 0.5  # after ESME_RTHROTTLED and other temporary refusals
    retry_max_s: float = 30.0
    # a segment answered with a temporary error this many times is refused for good
    # (ESME_RTHROTTLED and ESME_RMSGQFUL excepted: those are waited out however long)
    max_attempts: int = 10
    # the carrier's own (vendor-specific, 0x400-0x4FF) codes that mean "try again later"
    extra_temporary_statuses: tuple[int, ...] = ()

    @classmethod
    def from_url(cls, url: str) -> SmscConfig:
        """`smpp://SYSTEM_ID:PASSWORD@HOST:PORT?window=10&rate_per_s=50&...`: any field by
        name as a query parameter (percent-encode a password's reserved characters)."""
        parts = urlsplit(url)
        if parts.scheme != "smpp" or not parts.hostname or parts.username is None:
            raise ValueError("expected smpp://SYSTEM_ID:PASSWORD@HOST[:PORT][?field=value...]")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        extra: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query, strict_parsing=bool(parts.query)):
            if key not in fields or key in {"host", "port", "system_id", "password"}:
                raise ValueError(f"unknown SMPP setting {key!r}")
            kind = str(fields[key].type)
            if key == "extra_temporary_statuses":
                extra[key] = tuple(int(v, 0) for v in value.split(",") if v)
            elif "float" in kind:
                extra[key] = float(value)
            elif "int" in kind:
                extra[key] = int(value, 0)
            else:
                extra[key] = value
        return cls(
            host=parts.hostname,
            port=parts.port or 2775,
            system_id=unquote(parts.username),
            password=unquote(parts.password or ""),
            **extra,
        )

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("window must be at least 1")
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
