"""Clocks: the real one, a scaled one for the sandbox, and a settable one for tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    """Wall-clock time. The one place in voxcast allowed to read the system time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs `speed` times faster than the wall, counted from an anchor instant.

    `--sandbox-speed 60` makes a minute of ringing and talking pass in a second, so a long
    campaign can be watched (or tested) in moments while every duration stays consistent.
    Processes that share a database must share the anchor (`--sandbox-epoch`) so they agree
    on the time; by default the anchor is the moment the clock is made.
    """

    def __init__(
        self,
        speed: float,
        base: SystemClock | None = None,
        start: datetime | None = None,
        anchor: datetime | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._base = base or SystemClock()
        self._anchor_wall = anchor or self._base.now()
        self._anchor_clock = start or self._anchor_wall

    def now(self) -> datetime:
        elapsed = (self._base.now() - self._anchor_wall).total_seconds()
        return self._anchor_clock + timedelta(seconds=elapsed * self.speed)

    def monotonic(self) -> float:
        return self._base.monotonic() * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class FixedClock:
    """A clock that moves only when told to; for deterministic tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        self._mono += (when - self._now).total_seconds()
        self._now = when

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)
