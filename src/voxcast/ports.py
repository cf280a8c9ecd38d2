"""Interfaces between layers: Clock, and the Carrier seam between the dialer and the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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


@dataclass(frozen=True)
class Prompt:
    """What a call plays: an id the carrier can fetch audio by, and its length in seconds."""

    ref: str
    duration_s: float


@dataclass(frozen=True)
class DialRequest:
    """Everything a carrier needs to place one call, in the task's own terms."""

    callee: str
    caller_id: str | None
    prompt: Prompt
    loop_count: int = 1
    max_ringing_s: float = 60
    max_talk_s: float = 60
    delay_play_s: float = 0
    delay_hangup_s: float = 0
    collect_dtmf: bool = True
    record: bool = False


class HangupBy(StrEnum):
    CALLEE = "callee"
    US = "us"
    NETWORK = "network"


@dataclass(frozen=True)
class Ringing:
    at: datetime


@dataclass(frozen=True)
class EarlyMedia:
    at: datetime


@dataclass(frozen=True)
class Answered:
    at: datetime


@dataclass(frozen=True)
class Dtmf:
    digit: str
    at: datetime


@dataclass(frozen=True)
class PromptDone:
    at: datetime


@dataclass(frozen=True)
class HungUp:
    """The last event of every call, emitted exactly once, also on errors and time-outs."""

    at: datetime
    by: HangupBy
    sip_code: int
    reason: str


CallEvent = Ringing | EarlyMedia | Answered | Dtmf | PromptDone | HungUp


class Call(Protocol):
    """One call in progress. `events()` ends right after the single `HungUp`."""

    def events(self) -> AsyncIterator[CallEvent]: ...

    async def hangup(self) -> None:
        """End the call now (cancel if it is still ringing); `HungUp(by=US)` follows."""
        ...


class Carrier(Protocol):
    """Places calls. The sandbox and the SIP trunk carriers implement this; the dialer uses it."""

    async def dial(self, request: DialRequest) -> Call:
        """Start a call and return at once; progress comes through `Call.events()`."""
        ...

    async def close(self) -> None: ...
