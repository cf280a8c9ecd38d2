"""A call's lifecycle as one table, like h11's `_state.py`: (state, event) -> (state, actions),
for both roles (we called: UAC; we were called: UAS). Pure: the user agents feed it what the
wire and the application say and carry out the actions it returns; the SIP carrier reads it.

The table is the only place that says what may happen when: the early part differs by role
(a UAC CANCELs, a UAS refuses with a final response), the in-dialog part is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from voxcast.ports import HangupBy

__all__ = ["TABLE", "Action", "Ended", "Event", "Role", "Session", "SessionError", "State"]


@dataclass(frozen=True)
class Ended:
    """How the call ended, reported exactly once: the SIP code, who ended it, why."""

    code: int
    by: HangupBy
    reason: str


class Role(Enum):
    UAC = "uac"  # we sent the INVITE
    UAS = "uas"  # we received it


class State(Enum):
    CALLING = "calling"  # UAC: INVITE out, nothing back; UAS: INVITE in, 100 out
    PROCEEDING = "proceeding"  # UAC: a 100 came (the next hop has it: CANCEL is allowed now)
    RINGING = "ringing"  # UAC: 180/183 came; UAS: our 180 is out
    EARLY = "early"  # UAC: early media (a provisional with an SDP answer)
    CANCELLING = "cancelling"  # UAC: we hung up before an answer; CANCEL out (or due)
    ANSWERED = "answered"
    HELD = "held"  # the far end put us on hold (sendonly, inactive): no RTP from us
    ENDING = "ending"  # our BYE is out: over for us (§15.1.1); its transaction goes on
    ENDED = "ended"


class Event(Enum):
    TRYING = "trying"  # UAC: 100 Trying
    RING = "ring"  # UAC: 180/183 came; UAS: we send 180
    EARLY_MEDIA = "early-media"  # UAC: a provisional with an SDP answer (a new one)
    ANSWER = "answer"  # UAC: a usable 2xx came; UAS: our 200 goes out
    BAD_ANSWER = "bad-answer"  # UAC: a 2xx whose SDP we cannot use (ACK, then BYE)
    HOLD = "hold"  # the far end's re-offer holds the media
    RESUME = "resume"  # ...or takes it off hold (or just moves it)
    HANGUP = "hangup"  # we end the call: CANCEL/refusal before the answer, BYE after
    FAR_BYE = "far-bye"  # the far end's BYE
    FAILED = "failed"  # ended without a BYE of ours: a final failure, a far CANCEL, a time-out
    BYE_DONE = "bye-done"  # our BYE's transaction is over (answered or not)


class Action(Enum):
    REPORT_RINGING = "report-ringing"
    REPORT_EARLY = "report-early"
    REPORT_ANSWERED = "report-answered"
    SEND_CANCEL = "send-cancel"  # UAC: CANCEL the INVITE (once a provisional allows it, §9.1)
    SEND_REFUSAL = "send-refusal"  # UAS: a final failure to the INVITE (480 unless told)
    SEND_BYE = "send-bye"
    REPORT_END = "report-end"  # the call's one Ended event (no-op when already out)


class SessionError(ValueError):
    """An event the table has no row for in this state: a bug in the caller, never the wire."""


A = Action
E = Event
S = State
_Row = dict[tuple[State, Event], tuple[State, tuple[Action, ...]]]

_EARLY_UAC = (S.CALLING, S.PROCEEDING, S.RINGING, S.EARLY)
_EARLY_UAS = (S.CALLING, S.RINGING)
_IN_DIALOG = (S.ANSWERED, S.HELD)


def _rows() -> dict[Role, _Row]:
    shared: _Row = {}
    for state in _IN_DIALOG:
        shared[state, E.HOLD] = (S.HELD, ())
        shared[state, E.RESUME] = (S.ANSWERED, ())
        shared[state, E.HANGUP] = (S.ENDING, (A.SEND_BYE, A.REPORT_END))
        shared[state, E.FAR_BYE] = (S.ENDED, (A.REPORT_END,))
        shared[state, E.FAILED] = (S.ENDED, (A.REPORT_END,))
    # our BYE is out and the call already reported: whatever comes only closes it
    for event in (E.FAR_BYE, E.FAILED, E.BYE_DONE):
        shared[S.ENDING, event] = (S.ENDED, (A.REPORT_END,))
    shared[S.ENDING, E.HANGUP] = (S.ENDING, ())
    for event in Event:
        shared[S.ENDED, event] = (S.ENDED, ())

    uac: _Row = dict(shared)
    uac[S.CALLING, E.TRYING] = (S.PROCEEDING, ())
    for state in (S.PROCEEDING, S.RINGING, S.EARLY):
        uac[state, E.TRYING] = (state, ())
    uac[S.CALLING, E.RING] = (S.RINGING, (A.REPORT_RINGING,))
    uac[S.PROCEEDING, E.RING] = (S.RINGING, (A.REPORT_RINGING,))
    uac[S.RINGING, E.RING] = (S.RINGING, ())
    uac[S.EARLY, E.RING] = (S.EARLY, ())  # ringing (or not) is told once, before early media
    for state in _EARLY_UAC:
        uac[state, E.EARLY_MEDIA] = (S.EARLY, (A.REPORT_EARLY,))
        uac[state, E.ANSWER] = (S.ANSWERED, (A.REPORT_ANSWERED,))
        uac[state, E.BAD_ANSWER] = (S.ENDING, (A.SEND_BYE, A.REPORT_END))
        uac[state, E.HANGUP] = (S.CANCELLING, (A.SEND_CANCEL,))
        uac[state, E.FAILED] = (S.ENDED, (A.REPORT_END,))
    for event in (E.TRYING, E.RING, E.EARLY_MEDIA, E.HANGUP):
        uac[S.CANCELLING, event] = (S.CANCELLING, ())
    # our CANCEL crossed the far end's 200: the call exists, so ACK it (always) and BYE it
    uac[S.CANCELLING, E.ANSWER] = (S.ENDING, (A.SEND_BYE, A.REPORT_END))
    uac[S.CANCELLING, E.BAD_ANSWER] = (S.ENDING, (A.SEND_BYE, A.REPORT_END))
    uac[S.CANCELLING, E.FAILED] = (S.ENDED, (A.REPORT_END,))  # the 487, or given up

    uas: _Row = dict(shared)
    uas[S.CALLING, E.RING] = (S.RINGING, ())
    uas[S.RINGING, E.RING] = (S.RINGING, ())
    for state in _EARLY_UAS:
        uas[state, E.ANSWER] = (S.ANSWERED, (A.REPORT_ANSWERED,))
        uas[state, E.HANGUP] = (S.ENDED, (A.SEND_REFUSAL, A.REPORT_END))
        uas[state, E.FAILED] = (S.ENDED, (A.REPORT_END,))
    return {Role.UAC: uac, Role.UAS: uas}


#: every transition there is; anything else raises SessionError
TABLE: dict[Role, _Row] = _rows()


class Session:
    """One call's state, and the end it will report. `fire(event, end)` moves it along the
    table and returns the actions to carry out; `end` is how the call ends should this event
    end it (the first one given is kept: a BYE that crosses ours does not change why we
    hung up)."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self.state = State.CALLING
        #: how the call ends, once decided (by our hang-up, or what ended it)
        self.end: Ended | None = None
        #: the Ended event is out (at our BYE, or when the call ended)
        self.reported = False
        #: the call was answered at some point (it may have ended since)
        self.answered = False

    def fire(self, event: Event, end: Ended | None = None) -> tuple[Action, ...]:
        try:
            state, actions = TABLE[self.role][self.state, event]
        except KeyError:
            raise SessionError(
                f"{self.role.value}: no transition for {event.value} in {self.state.value}"
            ) from None
        self.state = state
        if state is State.ANSWERED:
            self.answered = True
        if end is not None and self.end is None:
            self.end = end
        if A.REPORT_END in actions:
            if self.reported or self.end is None:
                actions = tuple(a for a in actions if a is not A.REPORT_END)
            else:
                self.reported = True
        return actions

    # -- what the application asks ------------------------------------------------------

    @property
    def early(self) -> bool:
        """Before the answer, and not given up on."""
        return self.state in (S.CALLING, S.PROCEEDING, S.RINGING, S.EARLY)

    @property
    def in_dialog(self) -> bool:
        """Answered and not over for us: the far end's in-dialog requests are served."""
        return self.state in (S.ANSWERED, S.HELD)

    @property
    def dialog_up(self) -> bool:
        """The dialog stands: the far end's requests in it are served (also once our BYE is
        out: a BYE crossing ours, say)."""
        return self.state in (S.ANSWERED, S.HELD, S.ENDING)

    @property
    def over(self) -> bool:
        """Over for us: our BYE is out, or the call ended."""
        return self.state in (S.ENDING, S.ENDED)

    @property
    def held(self) -> bool:
        return self.state is S.HELD
