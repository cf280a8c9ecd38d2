"""A robot script's texts after the call: which app and sender they go as, and which texts of
the conversation are sent (none after an opt-out, each text once, no blank one)."""

from __future__ import annotations

from voxcast.domain.sms import SmsRoute, script_sms_route, script_sms_texts
from voxcast.domain.task_settings import from_params


def test_an_ai_group_call_sends_as_its_sms_app_and_sender() -> None:
    settings = from_params({"scriptId": 3, "smsAppId": "sms1", "senderId": "ACME"})
    assert script_sms_route("app1", settings.sms) == SmsRoute("app1", "sms1", "ACME")


def test_an_aivoice_task_sends_from_its_app_with_no_sender() -> None:
    # taskAdd has no SMS fields: the task's app (its SMS push URL, its do-not-call list)
    settings = from_params({"dialogFlowId": 3, "jobPhoneNumberId": 1, "robotCount": 2})
    assert script_sms_route("app1", settings.sms) == SmsRoute("app1", None, None)


def test_a_blank_sender_is_no_sender() -> None:
    settings = from_params({"smsAppId": "", "senderId": ""})
    assert script_sms_route("app1", settings.sms) == SmsRoute("app1", None, None)


def test_each_text_is_sent_once_in_order_and_blank_ones_not_at_all() -> None:
    conversation = {"sms": ["Hi Ann", "  ", "Bye Ann", "Hi Ann"], "opted_out": False}
    assert script_sms_texts(conversation) == ["Hi Ann", "Bye Ann"]


def test_no_text_after_an_opt_out_or_without_a_conversation() -> None:
    assert script_sms_texts({"sms": ["Hi Ann"], "opted_out": True}) == []
    assert script_sms_texts({"sms": [], "opted_out": False}) == []
    assert script_sms_texts(None) == []
