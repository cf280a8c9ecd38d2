"""The call session table, transition by transition (both roles), then the sequences that
matter on the wire: hold and resume, a CANCEL crossing a 200 (ACK, then BYE), the call ending
as our BYE is sent (RFC 3261 §15.1.1) and re-INVITE glare (491)."""

from __future__ import annotations

import pytest

from voxcast.ports import HangupBy
from voxcast.telephony.sip.core.session import (
    TABLE,
    Action,
    Ended,
    Event,
    Role,
    Session,
    SessionError,
    State,
)

S, E, A = State, Event, Action
BYE_AND_REPORT = (A.SEND_BYE, A.REPORT_END)
REPORT = (A.REPORT_END,)

#: the in-dialog rows, the same for both roles
SHARED = {
    (S.ANSWERED, E.HOLD): (S.HELD, ()),
    (S.ANSWERED, E.RESUME): (S.ANSWERED, ()),
    (S.ANSWERED, E.HANGUP): (S.ENDING, BYE_AND_REPORT),
    (S.ANSWERED, E.FAR_BYE): (S.ENDED, REPORT),
    (S.ANSWERED, E.FAILED): (S.ENDED, REPORT),
    (S.HELD, E.HOLD): (S.HELD, ()),
    (S.HELD, E.RESUME): (S.ANSWERED, ()),
    (S.HELD, E.HANGUP): (S.ENDING, BYE_AND_REPORT),
    (S.HELD, E.FAR_BYE): (S.ENDED, REPORT),
    (S.HELD, E.FAILED): (S.ENDED, REPORT),
    (S.ENDING, E.HANGUP): (S.ENDING, ()),
    (S.ENDING, E.FAR_BYE): (S.ENDED, REPORT),
    (S.ENDING, E.FAILED): (S.ENDED, REPORT),
    (S.ENDING, E.BYE_DONE): (S.ENDED, REPORT),
    **{(S.ENDED, event): (S.ENDED, ()) for event in Event},
}

UAC = {
    **SHARED,
    (S.CALLING, E.TRYING): (S.PROCEEDING, ()),
    (S.PROCEEDING, E.TRYING): (S.PROCEEDING, ()),
    (S.RINGING, E.TRYING): (S.RINGING, ()),
    (S.EARLY, E.TRYING): (S.EARLY, ()),
    (S.CALLING, E.RING): (S.RINGING, (A.REPORT_RINGING,)),
    (S.PROCEEDING, E.RING): (S.RINGING, (A.REPORT_RINGING,)),
    (S.RINGING, E.RING): (S.RINGING, ()),
    (S.EARLY, E.RING): (S.EARLY, ()),
    **{
        row: result
        for state in (S.CALLING, S.PROCEEDING, S.RINGING, S.EARLY)
        for row, result in {
            (state, E.EARLY_MEDIA): (S.EARLY, (A.REPORT_EARLY,)),
            (state, E.ANSWER): (S.ANSWERED, (A.REPORT_ANSWERED,)),
            (state, E.BAD_ANSWER): (S.ENDING, BYE_AND_REPORT),
            (state, E.HANGUP): (S.CANCELLING, (A.SEND_CANCEL,)),
            (state, E.FAILED): (S.ENDED, REPORT),
        }.items()
    },
    (S.CANCELLING, E.TRYING): (S.CANCELLING, ()),
    (S.CANCELLING, E.RING): (S.CANCELLING, ()),
    (S.CANCELLING, E.EARLY_MEDIA): (S.CANCELLING, ()),
    (S.CANCELLING, E.HANGUP): (S.CANCELLING, ()),
    (S.CANCELLING, E.ANSWER): (S.ENDING, BYE_AND_REPORT),
    (S.CANCELLING, E.BAD_ANSWER): (S.ENDING, BYE_AND_REPORT),
    (S.CANCELLING, E.FAILED): (S.ENDED, REPORT),
}

UAS = {
    **SHARED,
    (S.CALLING, E.RING): (S.RINGING, ()),
    (S.RINGING, E.RING): (S.RINGING, ()),
    (S.CALLING, E.ANSWER): (S.ANSWERED, (A.REPORT_ANSWERED,)),
    (S.RINGING, E.ANSWER): (S.ANSWERED, (A.REPORT_ANSWERED,)),
    (S.CALLING, E.HANGUP): (S.ENDED, (A.SEND_REFUSAL, A.REPORT_END)),
    (S.RINGING, E.HANGUP): (S.ENDED, (A.SEND_REFUSAL, A.REPORT_END)),
    (S.CALLING, E.FAILED): (S.ENDED, REPORT),
    (S.RINGING, E.FAILED): (S.ENDED, REPORT),
}

EXPECTED = {Role.UAC: UAC, Role.UAS: UAS}
END = Ended(499, HangupBy.US, "test")


def _in(role: Role, state: State) -> Session:
    session = Session(role)
    session.state = state
    return session


@pytest.mark.parametrize(
    ("role", "state", "event"),
    [(role, s, e) for role, rows in EXPECTED.items() for (s, e) in rows],
)
def test_each_transition(role: Role, state: State, event: Event) -> None:
    session = _in(role, state)
    actions = session.fire(event, END)
    want_state, want_actions = EXPECTED[role][state, event]
    assert session.state is want_state
    assert actions == want_actions


@pytest.mark.parametrize("role", list(Role))
def test_there_is_no_other_transition(role: Role) -> None:
    assert set(TABLE[role]) == set(EXPECTED[role])
    missing = [(s, e) for s in State for e in Event if (s, e) not in EXPECTED[role]]
    for state, event in missing:
        with pytest.raises(SessionError):
            _in(role, state).fire(event)


def test_a_uas_never_cancels_nor_sees_early_media() -> None:
    for event in (E.TRYING, E.EARLY_MEDIA, E.BAD_ANSWER):
        with pytest.raises(SessionError, match="uas: no transition"):
            Session(Role.UAS).fire(event)
    with pytest.raises(SessionError):
        _in(Role.UAS, S.CANCELLING).fire(E.HANGUP)


def test_hold_then_resume_keeps_the_call_answered() -> None:
    session = Session(Role.UAC)
    session.fire(E.RING)
    session.fire(E.ANSWER)
    assert session.fire(E.HOLD) == ()
    assert (session.state, session.held, session.in_dialog, session.over) == (
        S.HELD,
        True,
        True,
        False,
    )
    assert session.fire(E.RESUME) == ()
    assert (session.state, session.held, session.answered) == (S.ANSWERED, False, True)
    assert session.end is None and not session.reported


def test_hangup_while_held_sends_bye_and_reports_at_once() -> None:
    session = Session(Role.UAS)
    session.fire(E.ANSWER)
    session.fire(E.HOLD)
    ours = Ended(200, HangupBy.US, "normal clearing")
    assert session.fire(E.HANGUP, ours) == (A.SEND_BYE, A.REPORT_END)
    assert (session.state, session.end, session.reported) == (S.ENDING, ours, True)


def test_a_200_crossing_our_cancel_is_byed_and_the_call_ends_as_cancelled() -> None:
    session = Session(Role.UAC)
    session.fire(E.TRYING)
    session.fire(E.RING)
    cancelled = Ended(487, HangupBy.US, "hung up by us")
    assert session.fire(E.HANGUP, cancelled) == (A.SEND_CANCEL,)
    assert session.state is S.CANCELLING and not session.reported
    # the 200 arrives before the 487: BYE it; the end is still our cancel, reported now
    assert session.fire(E.ANSWER) == (A.SEND_BYE, A.REPORT_END)
    assert (session.state, session.end, session.answered) == (S.ENDING, cancelled, False)
    # the INVITE's 487 never comes (it was answered); the BYE's 200 closes the call
    assert session.fire(E.BYE_DONE, Ended(200, HangupBy.US, "other")) == ()
    assert (session.state, session.end) == (S.ENDED, cancelled)


def test_the_487_after_our_cancel_reports_our_end_not_the_status() -> None:
    session = Session(Role.UAC)
    session.fire(E.RING)
    ours = Ended(480, HangupBy.US, "no answer")
    session.fire(E.HANGUP, ours)
    assert session.fire(E.FAILED, Ended(487, HangupBy.NETWORK, "Request Terminated")) == REPORT
    assert (session.state, session.end) == (S.ENDED, ours)


def test_the_call_ends_when_our_bye_is_sent_not_when_it_is_answered() -> None:
    session = Session(Role.UAC)
    session.fire(E.ANSWER)
    ours = Ended(200, HangupBy.US, "normal clearing")
    assert session.fire(E.HANGUP, ours) == (A.SEND_BYE, A.REPORT_END)
    assert session.over and session.reported
    # the BYE times out 32 s later: nothing more to report, the end unchanged
    assert session.fire(E.BYE_DONE, Ended(408, HangupBy.NETWORK, "BYE timed out")) == ()
    assert (session.state, session.end) == (S.ENDED, ours)


def test_byes_that_cross_keep_our_end() -> None:
    session = Session(Role.UAS)
    session.fire(E.ANSWER)
    ours = Ended(200, HangupBy.AGENT, "agent hung up")
    session.fire(E.HANGUP, ours)
    assert session.fire(E.FAR_BYE, Ended(200, HangupBy.CALLEE, "caller hung up")) == ()
    assert (session.state, session.end) == (S.ENDED, ours)


def test_the_far_end_hanging_up_is_reported_once() -> None:
    session = Session(Role.UAC)
    session.fire(E.ANSWER)
    theirs = Ended(200, HangupBy.CALLEE, "callee hung up")
    assert session.fire(E.FAR_BYE, theirs) == REPORT
    assert session.fire(E.FAILED, Ended(503, HangupBy.NETWORK, "late")) == ()
    assert session.end == theirs


def test_early_properties_follow_the_state() -> None:
    session = Session(Role.UAC)
    assert session.early and not session.in_dialog and not session.dialog_up
    session.fire(E.EARLY_MEDIA)
    assert session.early and session.state is S.EARLY
    session.fire(E.HANGUP, END)
    assert not session.early and not session.over
    session.fire(E.ANSWER)
    assert session.dialog_up and session.over and not session.in_dialog
