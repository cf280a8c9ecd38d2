"""The parsed answer of any endpoint, whichever envelope family it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Envelope:
    """`code` is the vendor status ("0" on success), `reason` its text, `data` the payload."""

    code: str
    reason: str
    data: Any
    raw: dict[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.code == "0"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Envelope:
        code = raw.get("status", raw.get("code"))
        reason = raw.get("reason", raw.get("msg", ""))
        return cls(str(code), str(reason), raw.get("data"), raw)
