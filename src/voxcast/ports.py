"""Interfaces between layers: the clock now; the carrier, TTS and pusher ports join as they land."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The only source of time. Tests and the sandbox inject a faster or fixed one."""

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, advancing at the clock's speed."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...
