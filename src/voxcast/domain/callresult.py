"""Folds a call's events into the facts a call record needs (pure; no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voxcast.ports import (
    AgentAnswered,
    AgentNoAnswer,
    AmdDecided,
    Answered,
    CallEvent,
    Dtmf,
    EarlyMedia,
    HangupBy,
    HungUp,
    Recorded,
    ReservedAgent,
    Ringing,
    TransferStarted,
)

#: terminationCode of a callee not dialed because a do-not-call list holds it (SIP 608
#: Rejected: an intermediary refused the call, RFC 8688)
DNC_CODE = 608

#: terminationReason words for the codes the platform produces (vendor publishes none)
REASONS: dict[int, str] = {
    200: "success",
    404: "number does not exist",
    408: "request timeout",
    480: "no answer",
    486: "busy",
    487: "cancelled",
    500: "system error",
    503: "network failure",
    603: "rejected",
    DNC_CODE: "do not call",
}


@dataclass
class CallFacts:
    """What happened on one call, as the record will state it."""

    call_time: datetime
    ringing_time: datetime | None = None
    answer_time: datetime | None = None
    hangup_time: datetime | None = None
    first_key: str | None = None
    keys: list[str] = field(default_factory=list)
    sip_code: int = 0
    hangup_by: HangupBy | None = None
    reason: str = ""
    #: the call-center part: when the callee started waiting for an agent, who took it
    transfer_time: datetime | None = None
    agent: ReservedAgent | None = None
    agent_answer_time: datetime | None = None
    no_answer_agents: list[str] = field(default_factory=list)
    #: answering-machine detection's verdict (HUMAN, MACHINE, NOTSURE) and app_amd's cause
    amd_result: str | None = None
    amd_cause: str | None = None
    #: a robot's call: the conversation (transcript, rounds, intent level, tags), as JSON
    conversation: dict[str, Any] | None = None
    #: the recording's files (names under `<data dir>/recordings`), when the call was recorded
    recording_full: str | None = None
    recording_customer: str | None = None

    def apply(self, event: CallEvent) -> None:
        if isinstance(event, AmdDecided):
            self.amd_result = event.result.verdict.value
            self.amd_cause = event.result.cause
        elif isinstance(event, TransferStarted):
            self.transfer_time = event.at
        elif isinstance(event, AgentNoAnswer):
            self.no_answer_agents.append(event.agent.name)
        elif isinstance(event, AgentAnswered):
            self.agent = event.agent
            self.agent_answer_time = event.at
        elif isinstance(event, (Ringing, EarlyMedia)):
            self.ringing_time = self.ringing_time or event.at
        elif isinstance(event, Answered):
            self.answer_time = event.at
        elif isinstance(event, Dtmf):
            self.keys.append(event.digit)
            if self.first_key is None:
                self.first_key = event.digit
        elif isinstance(event, Recorded):
            self.recording_full = event.full.name if event.full is not None else None
            self.recording_customer = event.customer.name if event.customer else None
        elif isinstance(event, HungUp):
            self.hangup_time = event.at
            self.sip_code = event.sip_code
            self.hangup_by = event.by
            self.reason = event.reason

    @property
    def answered(self) -> bool:
        return self.answer_time is not None

    @property
    def call_duration(self) -> int:
        """Talk seconds, rounded up: a 12.2 s call lasted 13 s on the bill's terms."""
        if self.answer_time is None or self.hangup_time is None:
            return 0
        return _ceil_seconds((self.hangup_time - self.answer_time).total_seconds())

    @property
    def ring_duration(self) -> int:
        if self.ringing_time is None:
            return 0
        end = self.answer_time or self.hangup_time or self.ringing_time
        return _ceil_seconds((end - self.ringing_time).total_seconds())

    @property
    def termination_code(self) -> str:
        return "200" if self.answered else str(self.sip_code or 500)

    @property
    def reported_sip_code(self) -> int:
        """The SIP code the record states: the call's final response, else its termination
        code (200 answered, 500 when the call could not be placed)."""
        return self.sip_code or int(self.termination_code)

    @property
    def termination_reason(self) -> str:
        if self.answered:
            return "success"
        if self.hangup_by is HangupBy.AGENT and self.reason:
            # only a click-to-call's phone ends a call before its callee answered
            return self.reason
        return REASONS.get(self.sip_code, self.reason or "failed")

    @property
    def feedback_value(self) -> str:
        return self.first_key if self.first_key is not None else "-1"


def _ceil_seconds(value: float) -> int:
    # tolerate float noise from clocks: 3.0000001 s is 3 s
    whole = int(value)
    return whole if value - whole < 1e-3 else whole + 1


def called_info_text(info: dict[str, Any] | None) -> str | None:
    """A record's calledInfo: sendCode's calledInfo as given; a group call's text1..text10 as
    a JSON string."""
    if not info:
        return None
    if set(info) == {"calledInfo"}:
        return str(info["calledInfo"])
    return json.dumps(info, ensure_ascii=False, separators=(",", ":"))


#: hangupReason (api-catalog §6.2) of a call-center record
NOT_ANSWERED, NORMAL_END, TRANSFER_RINGING_ENDED, TRANSFERRED_ENDED, ABNORMAL = 0, 1, 2, 3, 4
NO_SERVICE, OUT_OF_AREA, BUSY = 5, 6, 7
#: hangingDirection
BY_CUSTOMER, BY_AGENT, BY_SYSTEM = 0, 1, 3


def hangup_reason(facts: CallFacts) -> int:
    if facts.agent is not None:
        return TRANSFERRED_ENDED
    if facts.transfer_time is not None:
        return TRANSFER_RINGING_ENDED
    if facts.answered:
        return NORMAL_END
    return {486: BUSY, 600: BUSY, 404: NO_SERVICE, 480: NOT_ANSWERED, 487: NOT_ANSWERED}.get(
        facts.sip_code, ABNORMAL if facts.sip_code >= 500 else NOT_ANSWERED
    )


def hanging_direction(facts: CallFacts) -> int:
    if facts.hangup_by is HangupBy.CALLEE:
        return BY_CUSTOMER
    if facts.hangup_by is HangupBy.AGENT:
        return BY_AGENT
    return BY_SYSTEM


def abandoned(facts: CallFacts) -> bool:
    """The callee waited for an agent and none took the call before the wait ran out (or
    before the callee gave up waiting)."""
    return facts.transfer_time is not None and facts.agent is None


def cc_duration(facts: CallFacts) -> int:
    """Seconds with the agent when transferred, else the answered time."""
    start = facts.agent_answer_time or facts.answer_time
    if start is None or facts.hangup_time is None:
        return 0
    return _ceil_seconds((facts.hangup_time - start).total_seconds())
