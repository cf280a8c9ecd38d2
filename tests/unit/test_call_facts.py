"""Folding call events into record facts, and the post-call SMS rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voxcast.domain.callresult import CallFacts
from voxcast.domain.sms import fill, plan_sms
from voxcast.domain.task_settings import from_params
from voxcast.ports import Answered, Dtmf, HangupBy, HungUp, Ringing

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def answered_call(key: str | None = None, talk: float = 12.2) -> CallFacts:
    f = CallFacts(call_time=T0)
    f.apply(Ringing(at(1)))
    f.apply(Answered(at(3)))
    if key:
        f.apply(Dtmf(key, at(4)))
        f.apply(Dtmf("9", at(5)))
    f.apply(HungUp(at(3 + talk), HangupBy.US, 200, "normal"))
    return f


def test_durations_round_up_to_whole_seconds() -> None:
    f = answered_call(talk=12.2)
    assert f.call_duration == 13
    assert f.ring_duration == 2
    assert f.termination_code == "200" and f.termination_reason == "success"


def test_only_the_first_key_is_the_feedback_value() -> None:
    assert answered_call("3").feedback_value == "3"
    assert answered_call().feedback_value == "-1"


def test_unanswered_call_keeps_the_sip_code_and_bills_nothing() -> None:
    f = CallFacts(call_time=T0)
    f.apply(HungUp(at(1), HangupBy.CALLEE, 486, "busy"))
    assert (f.call_duration, f.termination_code, f.termination_reason) == (0, "486", "busy")


def test_template_variables_are_filled_and_missing_ones_left_empty() -> None:
    assert fill("Hi ${text1}, ${text10}!", {"text1": "Tom"}) == "Hi Tom, !"


def test_success_sms_waits_success_push_time_after_the_hang_up() -> None:
    params = {"hangUpSms": 1, "smsContent": "thanks", "successPush": 1, "successPushTime": 10}
    f = answered_call()
    plan = plan_sms(from_params(params).sms, f, None)
    assert plan is not None and plan.trigger == "success"
    assert plan.send_at == f.hangup_time + timedelta(seconds=10)  # type: ignore[operator]


def test_no_sms_when_hang_up_sms_is_off_or_no_trigger_matches() -> None:
    assert (
        plan_sms(
            from_params({"hangUpSms": 0, "smsContent": "x", "failedPush": 1}).sms,
            CallFacts(call_time=T0),
            None,
        )
        is None
    )
    params = {"hangUpSms": 1, "smsContent": "x", "feedbackPush": 1, "feedbackValue": "1"}
    assert plan_sms(from_params(params).sms, answered_call("2"), None) is None
