"""Typed task settings read from a stored `params` dict: defaults, each field, bad values, and
the stored form read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from voxcast.domain.aivoice_tasks import DEFAULT_REDIAL_CONDITIONS
from voxcast.domain.callresult import CallFacts
from voxcast.domain.schedule import Window
from voxcast.domain.task_settings import (
    GroupSettings,
    PreviewSettings,
    PromptSettings,
    RedialSettings,
    SendWindow,
    SmsSettings,
    TaskSettings,
    TransferSettings,
    from_params,
    group_settings,
    to_params,
)


def test_empty_params_give_the_defaults() -> None:
    s = from_params({})
    assert s == from_params(None)
    assert s.send_window == SendWindow(windows=(), zone=None, per_callee=False)
    assert s.transfer == TransferSettings(
        to_seat=False,
        group_id=None,
        mode=1,
        key=None,
        delay_s=0.0,
        proportional=False,
        callout_rate=None,
    )
    assert (s.transfer.group, s.transfer.ratio) == (None, 1.0)
    assert s.redial == RedialSettings(count=0, interval=timedelta(minutes=5))
    assert s.prompt == PromptSettings()
    assert s.sms == SmsSettings(enabled=False, success_delay_s=0)
    assert s.preview == PreviewSettings(group_ids=())


def test_a_transfer_task_reads_every_transfer_field() -> None:
    s = from_params(
        {
            "toSeat": 1,
            "sipGroupId": 12,
            "toSeatType": 2,
            "toSeatKey": "3",
            "delayTransfer": 4,
            "outboundControl": 1,
            "calloutRate": 3,
        }
    )
    assert s.transfer == TransferSettings(True, 12, 2, "3", 4.0, True, 3)
    assert (s.transfer.group, s.transfer.ratio) == (12, 3.0)


def test_the_group_counts_only_when_to_seat_is_on_and_string_switches_count() -> None:
    assert from_params({"toSeat": 0, "sipGroupId": 12}).transfer.group is None
    assert from_params({"toSeat": "1", "sipGroupId": "12"}).transfer.group == 12
    # the older single voiceGroupId names the group when sipGroupId is absent
    assert from_params({"toSeat": 1, "voiceGroupId": 8}).transfer.group == 8
    assert from_params({"toSeat": 1, "sipGroupId": 5, "voiceGroupId": 8}).transfer.group == 5


def test_bad_values_fall_back_to_the_defaults() -> None:
    s = from_params(
        {
            "toSeat": "yes",
            "sipGroupId": "twelve",
            "toSeatType": "x",
            "delayTransfer": "soon",
            "calloutRate": "lots",
            "recallCount": "many",
            "recallInterval": [],
            "successPushTime": "later",
            "allowSendTime": [{"strTime": "25:00", "endTime": "18:00"}],
            "voiceGroupIds": "7",
            "previewType": "auto",
        }
    )
    assert s.transfer == TransferSettings()
    assert s.redial == RedialSettings(count=0, interval=timedelta(minutes=5))
    assert s.sms.success_delay_s == 0
    assert s.send_window.windows == ()
    assert s.preview.group_ids == ()
    assert s.preview.kind is None


def test_zero_intervals_and_empty_keys_read_as_not_given() -> None:
    s = from_params({"recallInterval": 0, "toSeatKey": "", "smsContent": "", "feedbackValue": ""})
    assert s.redial.interval == timedelta(minutes=5)
    assert (s.transfer.key, s.sms.content, s.sms.feedback_value) == (None, None, None)


def test_send_windows_and_zones() -> None:
    s = from_params(
        {
            "allowSendTime": [
                {"strTime": "9:00", "endTime": "12:00"},
                {"strTime": "22:00", "endTime": "06:30"},
            ],
            "allowSendTimeZone": "Asia/Kolkata",
        }
    )
    assert s.send_window.windows == (
        Window(time(9, 0), time(12, 0)),
        Window(time(22, 0), time(6, 30)),
    )
    assert s.send_window.zone_name("UTC") == "Asia/Kolkata"
    assert s.send_window.per_callee is False
    callee = from_params({"allowSendTimeZone": "CALLEE"}).send_window
    assert (callee.per_callee, callee.zone, callee.zone_name("Europe/Paris")) == (
        True,
        None,
        "Europe/Paris",
    )


def test_redials_of_a_send_code() -> None:
    s = from_params({"recallCount": 2, "recallInterval": 15})
    assert s.redial == RedialSettings(2, timedelta(minutes=15))
    assert s.without_redials().redial == RedialSettings(0, timedelta(minutes=15))
    assert s.without_redials().transfer == s.transfer


def test_redials_of_an_aivoice_task() -> None:
    given = {"redial": True, "redialCondition": ["NO_ANSWER", "BUSY"], "redialInterval": 1}
    s = from_params(given | {"redialTimes": 2})
    assert s.redial == RedialSettings(2, timedelta(minutes=1), frozenset({"NO_ANSWER", "BUSY"}))
    # redialTimes 0 is no redial (not "the default"); off, no number of redials counts
    assert from_params(given | {"redialTimes": 0}).redial.count == 0
    assert from_params(given | {"redial": False, "redialTimes": 3}).redial.count == 0
    # on, with nothing else said: one redial after 5 minutes, of the usual not-reached results
    bare = from_params({"redial": True, "redialCondition": []}).redial
    assert bare == RedialSettings(1, timedelta(minutes=5), DEFAULT_REDIAL_CONDITIONS)
    assert from_params({"redial": True}).redial == bare
    # a value the API would refuse (a row edited by hand) is left out
    odd = from_params({"redial": True, "redialCondition": ["NO_ANSWER", "ANSWERED", 7]})
    assert odd.redial.conditions == frozenset({"NO_ANSWER"})
    for params in (given | {"redialTimes": 2}, {"redial": False}, {"redial": True}):
        assert from_params(to_params(from_params(params))) == from_params(params)
    assert from_params({"recallCount": 2}).redial.conditions is None


AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
UNANSWERED = CallFacts(call_time=AT, hangup_time=AT, sip_code=480)
BUSY = CallFacts(call_time=AT, hangup_time=AT, sip_code=486)
FAILED = CallFacts(call_time=AT, hangup_time=AT)
ANSWERED = CallFacts(call_time=AT, answer_time=AT, hangup_time=AT, sip_code=200)
#: a robot's call handed to a human and lost there: answered, its result the robot's own
LOST_TRANSFER = CallFacts(
    call_time=AT,
    answer_time=AT,
    hangup_time=AT,
    sip_code=200,
    conversation={"result_status": "TRANSFER_ARTIFICIAL"},
)


@pytest.mark.parametrize(
    ("conditions", "facts", "attempt", "expected"),
    [
        # sendCode's rule (no conditions): any call not answered, while redials are left
        (None, UNANSWERED, 1, True),
        (None, BUSY, 2, True),
        (None, FAILED, 1, True),
        (None, BUSY, 3, False),
        (None, ANSWERED, 1, False),
        # an AiVoice task's: only the results it names
        (frozenset({"NO_ANSWER"}), UNANSWERED, 1, True),
        (frozenset({"NO_ANSWER"}), UNANSWERED, 2, True),
        (frozenset({"NO_ANSWER"}), UNANSWERED, 3, False),
        (frozenset({"NO_ANSWER"}), BUSY, 1, False),
        (frozenset({"BUSY", "SYSTEM_ERROR"}), BUSY, 1, True),
        (frozenset({"BUSY", "SYSTEM_ERROR"}), FAILED, 1, True),
        (DEFAULT_REDIAL_CONDITIONS, ANSWERED, 1, False),
        (DEFAULT_REDIAL_CONDITIONS, LOST_TRANSFER, 1, False),
        (frozenset({"TRANSFER_ARTIFICIAL"}), LOST_TRANSFER, 1, True),
    ],
)
def test_a_call_is_redialed_when_its_result_is_one_the_settings_name(
    conditions: frozenset[str] | None, facts: CallFacts, attempt: int, expected: bool
) -> None:
    redial = RedialSettings(2, timedelta(minutes=1), conditions)
    assert redial.again(attempt, facts) is expected
    assert RedialSettings(0, timedelta(minutes=1), conditions).again(1, facts) is False


def test_prompt_and_voice_fields_are_kept_as_given() -> None:
    s = from_params(
        {
            "source": 3,
            "text": "",
            "lan": "",
            "language": "EN",
            "accent": "in",
            "ssmlGender": "2",
            "speakingRate": "fast",
            "uploadName": "a.wav",
            "voiceFileId": "f1",
        }
    )
    # the TTS layer checks the voice fields and fails the task with the reason
    assert s.prompt == PromptSettings(3, "f1", "a.wav", "", "", "EN", "in", "2", "fast")
    assert s.prompt.voice_language == "EN"


def test_hang_up_sms_fields() -> None:
    s = from_params(
        {
            "hangUpSms": 1,
            "smsContent": "hi ${text1}",
            "smsAppId": "app9",
            "senderId": "",
            "feedbackPush": 1,
            "feedbackValue": 4,
            "successPush": "1",
            "successPushTime": 30,
            "failedPush": 0,
            "ringPush": 1,
        }
    )
    assert s.sms == SmsSettings(True, "hi ${text1}", "app9", "", True, "4", True, 30, False, True)


def test_preview_fields() -> None:
    s = from_params(
        {
            "previewType": 1,
            "voiceGroupIds": [3, "4"],
            "fileName": "list.xlsx",
            "filePath": "/cc/upload/1_list.xlsx",
            "ccode": "86",
            "remark": "",
        }
    )
    assert s.preview == PreviewSettings(1, (3, 4), "list.xlsx", "/cc/upload/1_list.xlsx", "86", "")


def test_the_stored_form_reads_back_the_same_settings() -> None:
    full = TaskSettings(
        SendWindow((Window(time(8, 0), time(20, 5)),), "Asia/Tokyo", False),
        TransferSettings(True, 7, 2, "9", 2.5, True, 4),
        RedialSettings(3, timedelta(minutes=11)),
        PromptSettings(1, "f", "u.wav", "t", "en", "EN", "gb", 1, 1.25),
        SmsSettings(True, "c", "a", "s", True, "1", True, 5, True, True),
        PreviewSettings(0, (1, 2), "n", "p", "1", "r"),
    )
    assert from_params(to_params(full)) == full
    assert from_params(to_params(TaskSettings())) == TaskSettings()
    per_callee = TaskSettings(send_window=SendWindow(per_callee=True))
    assert from_params(to_params(per_callee)) == per_callee
    assert to_params(TaskSettings()) == {"toSeatType": 1, "recallInterval": 5}


def test_an_agent_groups_settings_are_read_with_their_defaults() -> None:
    assert group_settings(None) == group_settings({}) == GroupSettings(30.0, 20.0, 0.0)
    given = {"timeoutWaitSec": "45", "timeoutTransferSec": 12, "wrapUpTime": "2.5"}
    assert group_settings(given) == GroupSettings(45.0, 12.0, 2.5)
    # empty values mean "not given"; an unreadable one (a row edited by hand) too
    unset = {"timeoutWaitSec": "", "timeoutTransferSec": None, "wrapUpTime": "soon"}
    assert group_settings(unset) == GroupSettings(30.0, 20.0, 0.0)


def test_answering_machine_detection_settings_round_trip() -> None:
    from voxcast.domain.amd import AmdAction

    drop = from_params({"amd": 1, "amdAction": 1})
    assert (drop.amd, drop.amd_action) == (True, AmdAction.VOICEMAIL_DROP)
    hang_up = from_params({"amd": "1"})
    assert (hang_up.amd, hang_up.amd_action) == (True, AmdAction.HANG_UP)
    assert not from_params({}).amd
    assert from_params(to_params(drop)) == drop
    assert to_params(drop)["amd"] == 1 and to_params(drop)["amdAction"] == 1
    assert "amd" not in to_params(TaskSettings())
