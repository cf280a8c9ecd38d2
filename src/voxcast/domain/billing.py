"""Billing rules: billPeriod rounding ("20+20", "60+60", "1+1") and the cost of a call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_PERIOD = re.compile(r"^\s*(\d{1,4})\s*\+\s*(\d{1,4})\s*$")
_MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class BillPeriod:
    """First block and increment, in seconds: "20+20" bills 1-20 s as 20, 21-40 s as 40."""

    first: int
    increment: int

    @classmethod
    def parse(cls, text: str) -> BillPeriod:
        m = _PERIOD.match(text)
        if not m:
            raise ValueError(f"billPeriod {text!r} is not of the form FIRST+INCREMENT")
        first, inc = int(m.group(1)), int(m.group(2))
        if first < 1 or inc < 1:
            raise ValueError(f"billPeriod {text!r}: both parts must be at least 1")
        return cls(first, inc)

    def __str__(self) -> str:
        return f"{self.first}+{self.increment}"

    def charged_seconds(self, call_seconds: int) -> int:
        """Seconds billed for `call_seconds` of talk; an unanswered call bills nothing."""
        if call_seconds <= 0:
            return 0
        if call_seconds <= self.first:
            return self.first
        extra = call_seconds - self.first
        blocks = -(-extra // self.increment)
        return self.first + blocks * self.increment


def call_cost(rate_per_minute: Decimal, charged_seconds: int) -> Decimal:
    """Cost of a call: the per-minute rate times billed seconds, to six decimals."""
    return (rate_per_minute * charged_seconds / 60).quantize(_MICRO, rounding=ROUND_HALF_UP)
