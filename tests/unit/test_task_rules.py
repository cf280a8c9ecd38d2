"""Rules that join several fields of a task or a recall node, each with its vendor code:
prompt source (-22/-38/-39), hang-up SMS (-53), seat transfer, times (-11), ${textN} variables."""

from __future__ import annotations

from typing import Any

import pytest

from voxcast.domain.codes import ApiError, Code
from voxcast.services import task_rules

SMS = {"hangUpSms": 1, "smsAppId": "sms1", "smsContent": "thanks"}
SEAT = {"toSeat": 1, "sipGroupId": 7, "outboundControl": 1, "calloutRate": 1, "toSeatType": 1}


def fails(fn: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    return err.value


# -- prompt ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"source": 1}, Code.PARAMETER, "voiceFileId"),
        ({"source": 2, "baseFile": "AA=="}, Code.PARAMETER, "uploadName"),
        ({"source": 2, "uploadName": "a.mp3x"}, Code.PARAMETER, "baseFile"),
        ({"source": 3, "lan": "EN"}, Code.TTS_REQUIRED, "text"),
        ({"source": 3, "text": "hi"}, Code.TTS_REQUIRED, "lan"),
        ({"source": 3, "text": "hi", "lan": "XX"}, Code.TTS_LANGUAGE, "lan"),
    ],
)
def test_prompt_source_needs_its_fields(fields: dict[str, Any], code: Code, field: str) -> None:
    err = fails(task_rules.check_prompt, fields, "x.")
    assert err.code == code and f"x.{field}" in err.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"source": 1, "voiceFileId": "f.mp3"},
        {"source": 2, "uploadName": "a.mp3", "baseFile": "AA=="},
        {"source": 3, "text": "hi", "lan": "vn"},
    ],
)
def test_complete_prompts_pass(fields: dict[str, Any]) -> None:
    task_rules.check_prompt(fields)


# -- hang-up SMS -------------------------------------------------------------------------------


def test_sms_without_any_trigger_is_minus_53() -> None:
    err = fails(task_rules.check_sms, SMS)
    assert err.code == Code.SMS_TRIGGER


@pytest.mark.parametrize("trigger", ["failedPush", "ringPush"])
def test_any_one_trigger_is_enough(trigger: str) -> None:
    task_rules.check_sms({**SMS, trigger: 1})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"hangUpSms": 1, "smsContent": "x", "ringPush": 1}, "smsAppId"),
        ({"hangUpSms": 1, "smsAppId": "s", "ringPush": 1}, "smsContent"),
        ({**SMS, "feedbackPush": 1}, "feedbackValue"),
        ({**SMS, "feedbackPush": 1, "feedbackValue": "a"}, "feedbackValue"),
        ({**SMS, "successPush": 1}, "successPushTime"),
    ],
)
def test_sms_settings_are_required_with_minus_22(fields: dict[str, Any], field: str) -> None:
    err = fails(task_rules.check_sms, fields)
    assert err.code == Code.PARAMETER and field in err.reason


def test_sms_fields_are_ignored_when_hang_up_sms_is_off() -> None:
    task_rules.check_sms({"hangUpSms": 0, "feedbackPush": 1})


def test_a_node_needs_no_sms_app_of_its_own() -> None:
    task_rules.check_sms({"hangUpSms": 1, "smsContent": "x", "ringPush": 1}, needs_app=False)


# -- seat transfer -------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["sipGroupId", "outboundControl", "calloutRate", "toSeatType"])
def test_transfer_needs_its_settings(missing: str) -> None:
    fields = {k: v for k, v in SEAT.items() if k != missing}
    err = fails(task_rules.check_seat, fields)
    assert err.code == Code.PARAMETER and missing in err.reason


def test_transfer_by_key_needs_the_key() -> None:
    err = fails(task_rules.check_seat, {**SEAT, "toSeatType": 2})
    assert "toSeatKey" in err.reason
    task_rules.check_seat({**SEAT, "toSeatType": 2, "toSeatKey": "0"})


def test_a_node_transfer_by_key_also_needs_delay_transfer() -> None:
    fields = {**SEAT, "toSeatType": 2, "toSeatKey": "1"}
    err = fails(task_rules.check_seat, fields, "nodeList[0].", node=True)
    assert "nodeList[0].delayTransfer" in err.reason
    task_rules.check_seat({**fields, "delayTransfer": 0}, node=True)


# -- recall nodes ----------------------------------------------------------------------------------

NODE = {"source": 3, "text": "again", "lan": "EN", "hangUpSms": 0, "toSeat": 0}


@pytest.mark.parametrize("missing", ["source", "hangUpSms", "toSeat"])
def test_a_node_requires_what_page_000_requires(missing: str) -> None:
    node = {k: v for k, v in NODE.items() if k != missing}
    err = fails(task_rules.check_node, node, "nodeList[2].")
    assert err.code == Code.PARAMETER and f"nodeList[2].{missing}" in err.reason


def test_a_node_follows_the_task_rules() -> None:
    assert fails(task_rules.check_node, {**NODE, "lan": "XX"}, "n.").code == Code.TTS_LANGUAGE
    sms = {**NODE, "hangUpSms": 1, "smsContent": "x"}
    assert fails(task_rules.check_node, sms, "n.").code == Code.SMS_TRIGGER
    task_rules.check_node(NODE, "n.")


# -- times ------------------------------------------------------------------------------------


def test_times_are_checked_with_minus_11_naming_the_field() -> None:
    err = fails(task_rules.check_times, {"sendTime": "tomorrow"}, "UTC")
    assert err.code == Code.TIME_FORMAT and "sendTime" in err.reason
    bad = {"allowSendTime": [{"strTime": "08:00", "endTime": "09:00"}, {"strTime": "x"}]}
    err = fails(task_rules.check_times, bad, "UTC")
    assert err.code == Code.TIME_FORMAT and "allowSendTime[1].strTime" in err.reason


def test_no_send_time_means_now() -> None:
    assert task_rules.check_times({"sendTime": None}, "UTC") is None


# -- variables -----------------------------------------------------------------------------------


def test_variables_used_by_templates() -> None:
    used = task_rules.variables_used("Hi ${text1}, pay ${text10}", None, "see ${text2} ${text11}")
    assert used == {"text1", "text10", "text2"}


def test_every_callee_must_give_the_variables_used() -> None:
    infos = [{"text1": "Tom"}, None]
    err = fails(task_rules.check_variables, {"text1"}, infos, "numberInfoList")
    assert err.code == Code.PARAMETER and "numberInfoList[1].text1" in err.reason
    task_rules.check_variables(set(), infos, "numberInfoList")
    task_rules.check_variables({"text1"}, [{"text1": "Tom"}], "numberInfoList")
