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
class AgentSlot:
    """An agent reserved for one transfer (busy until released)."""

    key_id: int
    name: str
    group_name: str
    emp_no: str | None
    #: where to ring the agent's softphone (SIP URI); None for a sandbox virtual agent
    target: str | None
    ring_timeout_s: float = 20.0
    wrap_up_s: float = 0.0


class AgentDesk(Protocol):
    """Finds free agents for transfers: reserve one (it becomes busy), release it after."""

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> AgentSlot | None: ...

    async def release(self, slot: AgentSlot, *, talked: bool) -> None:
        """Back to idle, after the group's wrap-up time when the agent talked."""
        ...


@dataclass(frozen=True)
class Transfer:
    """Hand the answered callee to an agent of `group_id`: after the message (mode 1) or
    when the callee presses `key` (mode 2, `delay_s` after answer at the earliest). With no
    agent free, the callee waits up to `wait_s` and is then hung up on (abandoned)."""

    desk: AgentDesk
    group_id: int
    mode: int = 1
    key: str | None = None
    delay_s: float = 0.0
    wait_s: float = 30.0
    #: how long a transferred conversation may last
    max_talk_s: float = 3600.0


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
    transfer: Transfer | None = None


class HangupBy(StrEnum):
    CALLEE = "callee"
    US = "us"
    NETWORK = "network"
    AGENT = "agent"


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
class TransferStarted:
    """The callee is now waiting for an agent."""

    at: datetime


@dataclass(frozen=True)
class AgentRinging:
    agent: AgentSlot
    at: datetime


@dataclass(frozen=True)
class AgentNoAnswer:
    agent: AgentSlot
    at: datetime


@dataclass(frozen=True)
class AgentAnswered:
    """The agent took the call: callee and agent are bridged."""

    agent: AgentSlot
    at: datetime


@dataclass(frozen=True)
class HungUp:
    """The last event of every call, emitted exactly once, also on errors and time-outs."""

    at: datetime
    by: HangupBy
    sip_code: int
    reason: str


CallEvent = (
    Ringing
    | EarlyMedia
    | Answered
    | Dtmf
    | PromptDone
    | TransferStarted
    | AgentRinging
    | AgentNoAnswer
    | AgentAnswered
    | HungUp
)


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
