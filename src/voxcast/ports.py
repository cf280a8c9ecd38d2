"""Interfaces between layers: Clock, the Carrier seam between the dialer and the network, and
the SmsTransport seam between the SMS sender and an SMSC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from voxcast.domain.amd import AmdResult, AmdSettings


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
class ReservedAgent:
    """An agent reserved for one transfer (busy until released)."""

    key_id: int
    name: str
    group_name: str
    emp_no: str | None
    #: where to ring the agent's softphone (SIP URI); None for a sandbox virtual agent
    target: str | None
    ring_timeout_s: float = 20.0
    wrap_up_s: float = 0.0
    #: the proxies' Path it registered through (RFC 3327): the INVITE's preloaded Route set,
    #: sent to the first of them; empty for a phone registered with us directly
    route: tuple[str, ...] = ()


class AgentDesk(Protocol):
    """Finds free agents for transfers: reserve one (it becomes busy), release it after."""

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None: ...

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
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
    #: the callee's row (text1..text10, or calledInfo), shown to a browser agent it is offered to
    callee_info: dict[str, str] | None = None


@dataclass(frozen=True)
class OptOut:
    """The callee's key-press opt-out: on `key` the carrier stops whatever plays (the prompt,
    a transfer's hold), plays `confirmation` once and hangs up (`HungUp(by=US)`, reason
    `OPTED_OUT`); no transfer follows. The `Dtmf` is reported as it comes, before that."""

    key: str
    confirmation: Prompt


@dataclass(frozen=True)
class Conversation:
    """A robot's call (`DialRequest.conversation`): after the answer nothing plays by itself;
    the dialer says each prompt (`Call.say`) and hears the callee in whole turns
    (`CalleeSpeaking`, `CalleeSaid`). A prompt said interruptible stops within one frame once
    the callee has talked over it for `barge_in_ms` (`BargedIn`); shorter speech, a backchannel,
    does not stop it."""

    #: the callee's turn ends after this much silence
    end_of_turn_ms: int = 700
    barge_in_ms: int = 250


#: the HungUp reason of a call ended by the callee's opt-out key
OPTED_OUT = "opted out"


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
    #: record the call: a `Recorded` event names its files before `HungUp`
    record: bool = False
    transfer: Transfer | None = None
    #: click-to-call: the caller's phone, rung first and answered (`Carrier.ring_phone`);
    #: the callee hears no prompt, is bridged to it, and the call lasts until either hangs up
    bridge: PhoneLeg | None = None
    #: answering-machine detection from the answer on (None: off); `AmdDecided` reports it
    amd: AmdSettings | None = None
    #: with `amd`: a machine gets the prompt once after its greeting's beep (a voicemail drop)
    #: and the prompt waits for the verdict; without it a machine is hung up on at once
    voicemail_drop: bool = False
    #: the callee's key-press opt-out (None: no key does anything of the kind); once an agent
    #: took the call the key is only reported
    opt_out: OptOut | None = None
    #: a robot's call: `prompt` is not played, the dialer says what the script says
    conversation: Conversation | None = None


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
class CalleeSpeaking:
    """Conversation calls: the callee's voice began (perhaps only a backchannel)."""

    at: datetime


@dataclass(frozen=True)
class CalleeSaid:
    """Conversation calls: the callee's turn ended; `audio` is what they said, 8 kHz 16-bit
    mono PCM from the start of their speech, for the recognizer."""

    audio: bytes
    started: datetime
    at: datetime


@dataclass(frozen=True)
class BargedIn:
    """Conversation calls: the callee talked over an interruptible prompt, which the carrier
    has stopped already (its `PromptDone` follows)."""

    at: datetime


@dataclass(frozen=True)
class AmdDecided:
    """Answering-machine detection's verdict (HUMAN, MACHINE or NOTSURE, with app_amd's
    cause), once per call that asked for it (`DialRequest.amd`), after `Answered`."""

    result: AmdResult
    at: datetime


@dataclass(frozen=True)
class TransferStarted:
    """The callee is now waiting for an agent."""

    at: datetime


@dataclass(frozen=True)
class AgentRinging:
    agent: ReservedAgent
    at: datetime


@dataclass(frozen=True)
class AgentNoAnswer:
    agent: ReservedAgent
    at: datetime


@dataclass(frozen=True)
class AgentAnswered:
    """The agent took the call: callee and agent are bridged."""

    agent: ReservedAgent
    at: datetime


@dataclass(frozen=True)
class Recorded:
    """A call asked to record (`DialRequest.record`): its WAV files, right before `HungUp`.
    `full` has both sides (stereo: left what we sent, right what we heard), `customer` only
    the callee's; either is None when the carrier could not make it."""

    full: Path | None
    customer: Path | None
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
    | CalleeSpeaking
    | CalleeSaid
    | BargedIn
    | AmdDecided
    | TransferStarted
    | AgentRinging
    | AgentNoAnswer
    | AgentAnswered
    | Recorded
    | HungUp
)


class PhoneLeg(Protocol):
    """An agent's phone rung by a carrier for a click-to-call (voice/sendSip)."""

    async def answered(self) -> bool:
        """Wait until the phone answers (True) or will not (False: no answer within the
        group's ring time, busy, unreachable)."""
        ...

    @property
    def sip_code(self) -> int:
        """The phone's final code when it did not answer (480 no answer, 486 busy...)."""
        ...

    def close(self) -> None:
        """Hang the phone up if it is still on the call, and free what it holds."""
        ...


class Call(Protocol):
    """One call in progress. `events()` ends right after the single `HungUp`."""

    def events(self) -> AsyncIterator[CallEvent]: ...

    async def hangup(self) -> None:
        """End the call now (cancel if it is still ringing); `HungUp(by=US)` follows."""
        ...

    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        """Conversation calls, once answered: play `prompt` from now, in place of any prompt
        playing. Every prompt said ends in one `PromptDone`: played out, replaced, stopped by
        `hush` or barged in on."""
        ...

    def hush(self) -> None:
        """Conversation calls: stop what plays within one frame, buffered audio included."""
        ...

    def hand_over(self, transfer: Transfer) -> None:
        """Conversation calls, once answered: hand the callee to an agent of the transfer's
        group now, as a group call's transfer does after its message (`mode` and `key` do not
        apply). What plays stops (its `PromptDone`), the callee is no longer heard (no
        `CalleeSpeaking`, `CalleeSaid`, `BargedIn`) and `say` plays nothing more; then
        `TransferStarted`, the search's `AgentRinging`, `AgentNoAnswer` and `AgentAnswered`,
        and once bridged the call lasts until either side hangs up. With nobody taking it
        within `wait_s` the call is hung up (`HungUp` by US, "no agent free"). Once per call;
        after the call ended it does nothing."""
        ...


class Carrier(Protocol):
    """Places calls. The sandbox and the SIP trunk carriers implement this; the dialer uses it."""

    async def dial(self, request: DialRequest) -> Call:
        """Start a call and return at once; progress comes through `Call.events()`."""
        ...

    async def ring_phone(self, phone: ReservedAgent, caller: str) -> PhoneLeg:
        """Start ringing an agent's phone, showing `caller`; the first leg of a click-to-call."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send: our message id (the `msgid` callers see), the callee's number in
    digits, the sender id and the text, of any length (the transport segments it)."""

    message_id: str
    number: str
    sender: str
    text: str


@dataclass(frozen=True)
class SmsReceipt:
    """A delivery report matched to our message id: delivered or not, the carrier's final
    state in SMPP's words (DELIVRD, UNDELIV, EXPIRED, REJECTD, ...) and when it was reached."""

    message_id: str
    delivered: bool
    stat: str
    at: datetime


@dataclass(frozen=True)
class Submitted:
    """What the carrier took: the segment count and the carrier's id of each segment, in
    order. The ids are stored with the message, so a later run can still match its receipts
    (`SmsTransport.expect`)."""

    segments: int
    carrier_ids: tuple[str, ...] = ()


class SmsRejected(Exception):
    """The carrier refused a message for good (a bad number, a barred sender): not retried."""

    def __init__(self, message_id: str, reason: str) -> None:
        super().__init__(f"SMS {message_id} refused: {reason}")
        self.message_id = message_id
        self.reason = reason


class SmsTransport(Protocol):
    """Sends texts. The sandbox sink and the SMPP client implement this; the SMS sender uses it."""

    async def start(self) -> None:
        """Connect now, in the background (receipts of an earlier run may be waiting); returns
        at once. `submit` starts it too."""
        ...

    async def submit(self, message: OutgoingSms) -> Submitted:
        """Return what the carrier took once it accepted every segment. Waits through
        reconnects and throttling; raises SmsRejected when the carrier refuses it for good."""
        ...

    def expect(self, message_id: str, carrier_ids: tuple[str, ...]) -> None:
        """Report the receipt of a message an earlier run submitted (its `Submitted.carrier_ids`)
        as for one submitted now: how receipts survive a restart of voxcast."""
        ...

    def receipts(self) -> AsyncIterator[SmsReceipt]:
        """Delivery reports as they come, for messages this transport submitted."""
        ...

    async def close(self) -> None: ...


class BrowserPhoneHost(Protocol):
    """The agent pages' WebRTC media, in the process serving the pages
    (`telephony.callcenter.webrtc.BrowserPhones`), by agent id."""

    async def connect(self, key_id: int, offer_sdp: str) -> tuple[str, tuple[str, int]]:
        """The SDP answer to the page's offer, and the RTP address standing for the page."""
        ...

    def media_of(self, key_id: int) -> tuple[str, int] | None: ...

    def follow(self, key_id: int, leg: tuple[str, int] | None, codec: int) -> bool:
        """Bridge the page to the agent leg's RTP at `leg` (None: no call)."""
        ...

    async def disconnect(self, key_id: int) -> None: ...
