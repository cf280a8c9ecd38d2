"""Group-call task API against the vendor pages: every status code a request can trigger, each
test named after the code it proves (001 send, 003 resend/ai, catalog §2), on both databases."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Tenant, add_script, add_seat_group, make_tenant
from tests.contract.group_call_support import ai, raw
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Callee

#: the -32 reason of an appId that is not the caller's, before the appId
NO_APP = "API Key has no permission to access the current application: appId "

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return body


def page_001(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    body = sample("callSend.json")
    body["appId"] = tenant.app_id
    body.update(changes)
    return body


def tts(tenant: Tenant, numbers: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appId": tenant.app_id,
        "taskName": "tts task",
        "source": 3,
        "text": "Hello there",
        "lan": "EN",
        "loopCount": 1,
        "maxCalls": 60,
        "numberInfoList": [{"calleeNumber": n} for n in (numbers or ["8613000000000"])],
    }
    body.update(changes)
    return body


async def send(tenant: Tenant, body: dict[str, Any]) -> tuple[str, str, Any]:
    env = await tenant.client.send_group_call(**body)
    return env.code, env.reason, env.data


# -- success ---------------------------------------------------------------------------------


async def test_page_001_sample_is_accepted_with_code_0_and_a_task_id(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_seat_group(rt, tenant, 1000019)  # the sample transfers to this agent group
    env = await tenant.client.send_group_call(**page_001(tenant))
    assert env.raw["code"] == "0" and env.raw["msg"] == "success", env.reason
    assert isinstance(env.data, int) and env.data > 0


async def test_quick_start_sample_with_an_uploaded_file_is_accepted(tenant: Tenant) -> None:
    upload = await tenant.client.upload_file("reminder.m4a", audio_b64("m4a", 1.0))
    assert upload.code == "0", upload
    body = sample("quickstart_send.json")
    body.update(appId=tenant.app_id, voiceFileId=upload.data)
    code, reason, task_id = await send(tenant, body)
    assert code == "0", reason
    detail = await tenant.client.group_call_detail(task_id)
    assert detail.data["voiceFileId"] == upload.data and detail.data["numCnt"] == 2


async def test_quick_start_body_with_comments_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    body = (SAMPLES / "quickstart_send_with_comments.txt").read_text()
    resp = await http.post(
        "/voice/group/call/send",
        content=body,
        headers=signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts),
    )
    assert resp.status_code == 200
    assert resp.json()["code"] == "-18"


async def test_source_2_stores_the_upload_and_uses_its_file_id(tenant: Tenant) -> None:
    body = tts(tenant, source=2, uploadName="fresh.mp3", baseFile=audio_b64("mp3", 1.0))
    code, reason, task_id = await send(tenant, body)
    assert code == "0", reason
    detail = await tenant.client.group_call_detail(task_id)
    assert str(detail.data["voiceFileId"]).endswith(".mp3")


async def test_old_number_list_is_accepted_and_duplicates_kept_once(tenant: Tenant) -> None:
    body = tts(tenant)
    del body["numberInfoList"]
    body["numberList"] = ["8613000000000", "8613000000001", "8613000000000"]
    code, _, task_id = await send(tenant, body)
    assert code == "0"
    assert (await tenant.client.group_call_detail(task_id)).data["numCnt"] == 2


# -- -22 and -11: fields --------------------------------------------------------------------

BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing taskName", {"taskName": None}, "taskName"),
    ("taskName of 1 character", {"taskName": "x"}, "taskName"),
    ("taskName of 65 characters", {"taskName": "x" * 65}, "taskName"),
    ("loopCount 0", {"loopCount": 0}, "loopCount"),
    ("loopCount 10", {"loopCount": 10}, "loopCount"),
    ("maxCalls 1000", {"maxCalls": 1000}, "maxCalls"),
    ("maxRingingTime 19", {"maxRingingTime": 19}, "maxRingingTime"),
    ("maxRingingTime 121", {"maxRingingTime": 121}, "maxRingingTime"),
    ("delayPlay 1000", {"delayPlay": 1000}, "delayPlay"),
    ("displayNum of 21 digits", {"displayNum": "1" * 21}, "displayNum"),
    ("speakingRate 5", {"speakingRate": 5}, "speakingRate"),
    ("ssmlGender 3", {"ssmlGender": 3}, "ssmlGender"),
    ("source 4", {"source": 4}, "source"),
    ("source 1 without voiceFileId", {"source": 1}, "voiceFileId"),
    ("source 2 without baseFile", {"source": 2, "uploadName": "a.mp3x"}, "baseFile"),
    (
        "feedbackPush without feedbackValue",
        {"hangUpSms": 1, "smsAppId": "s", "smsContent": "hi", "feedbackPush": 1},
        "feedbackValue",
    ),
    (
        "successPush without successPushTime",
        {"hangUpSms": 1, "smsAppId": "s", "smsContent": "hi", "successPush": 1},
        "successPushTime",
    ),
    (
        "hangUpSms without smsContent",
        {"hangUpSms": 1, "smsAppId": "s", "ringPush": 1},
        "smsContent",
    ),
    (
        "toSeat without sipGroupId",
        {"toSeat": 1, "outboundControl": 1, "calloutRate": 1, "toSeatType": 1},
        "sipGroupId",
    ),
    (
        "toSeatType 2 without toSeatKey",
        {"toSeat": 1, "sipGroupId": 5, "outboundControl": 1, "calloutRate": 1, "toSeatType": 2},
        "toSeatKey",
    ),
    ("calloutRate 101", {"calloutRate": 101}, "calloutRate"),
    (
        "four allowSendTime windows",
        {"allowSendTime": [{"strTime": "08:00", "endTime": "09:00"}] * 4},
        "allowSendTime",
    ),
]


@pytest.mark.parametrize(("case", "changes", "field"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
async def test_field_errors_are_rejected_with_minus_22_naming_the_field(
    tenant: Tenant, case: str, changes: dict[str, Any], field: str
) -> None:
    body = tts(tenant)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    code, reason, _ = await send(tenant, body)
    assert code == "-22", reason
    assert field in reason


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ({"text1": "Tom\x00"}, "numberInfoList[0].text1: must not contain a NUL character"),
        ({"text3": "a\ud800b"}, "numberInfoList[0].text3: must be valid Unicode text"),
        (
            {"text10": "y" * 1001},
            "numberInfoList[0].text10: String should have at most 1000 characters",
        ),
    ],
    ids=["nul", "lone-surrogate", "over-1000"],
)
async def test_callee_text_variable_that_cannot_be_kept_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, info: dict[str, str], reason: str
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": "8613000000000", **info}]
    # raw: json.dumps escapes a lone surrogate as \ud800, which the SDK would refuse to encode
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send", body)
    assert got == {"code": "-22", "msg": f"Parameter exception: {reason}", "data": None}


async def test_callee_text_variable_of_1000_characters_is_accepted_and_cut_to_30(
    tenant: Tenant, rt: Runtime
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": "8613000000000", "text2": "z" * 1000}]
    code, reason, _ = await send(tenant, body)
    assert code == "0", reason
    async with rt.sessions() as session:
        stored = await session.scalar(select(Callee.info))
    assert stored == {"text2": "z" * 30}


@pytest.mark.parametrize(
    ("intent", "reason"),
    [
        ("10\x001", "recallFlow.recallIntent[1]: must not contain a NUL character"),
        ("i" * 65, "recallFlow.recallIntent[1]: String should have at most 64 characters"),
        ("\udfff", "recallFlow.recallIntent[1]: must be valid Unicode text"),
    ],
    ids=["nul", "over-64", "lone-surrogate"],
)
async def test_recall_intent_that_cannot_be_kept_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, intent: str, reason: str
) -> None:
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1, "recallIntent": ["101", intent]}
    body = ai(tenant, "ai", recallFlow=flow)
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send/ai", body)
    assert got == {"code": "-22", "msg": f"Parameter exception: {reason}", "data": None}


@pytest.mark.parametrize("number", ["86130000000a0", "861300", "8613000000000000"])
async def test_bad_callee_number_is_rejected_with_minus_22_naming_its_index(
    tenant: Tenant, number: str
) -> None:
    code, reason, _ = await send(tenant, tts(tenant, ["8613000000000", number]))
    assert code == "-22"
    assert "numberInfoList[1].calleeNumber" in reason


async def test_template_variable_missing_for_a_callee_is_rejected_with_minus_22(
    tenant: Tenant,
) -> None:
    body = tts(tenant, text="Hi ${text2}")
    body["numberInfoList"] = [
        {"calleeNumber": "8613000000000", "text2": "Tom"},
        {"calleeNumber": "8613000000001"},
    ]
    code, reason, _ = await send(tenant, body)
    assert code == "-22" and "numberInfoList[1].text2" in reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sendTime": "2026/03/02 10:00"}, "sendTime"),
        ({"allowSendTime": [{"strTime": "25:00", "endTime": "26:00"}]}, "allowSendTime[0].strTime"),
    ],
)
async def test_bad_time_is_rejected_with_minus_11(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    code, reason, _ = await send(tenant, tts(tenant, **changes))
    assert code == "-11" and field in reason


@pytest.mark.parametrize("zone", ["Asia/Kolkatta", "Mars/Olympus", "../../etc/passwd", "zone.tab"])
async def test_unknown_send_time_zone_is_rejected_with_minus_22_naming_the_field(
    tenant: Tenant, zone: str
) -> None:
    code, reason, _ = await send(tenant, tts(tenant, allowSendTimeZone=zone))
    assert code == "-22"
    assert reason == (
        f'Parameter exception: allowSendTimeZone: {zone!r} is not "callee" or an IANA time '
        'zone such as "Asia/Kolkata"'
    )


async def test_unknown_send_time_zone_of_an_ai_task_is_rejected_with_minus_22(
    tenant: Tenant,
) -> None:
    env = await tenant.client.send_group_call_ai(
        appId=tenant.app_id,
        taskName="ai",
        scriptId=7,
        allowSendTimeZone="Asia/Kolkatta",
        numberInfoList=[{"calleeNumber": "861300"}],
    )
    assert env.code == "-22" and "allowSendTimeZone: 'Asia/Kolkatta'" in env.reason


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "UTC", "Etc/GMT-8", "callee", "Callee", ""])
async def test_known_send_time_zones_and_callee_are_accepted(tenant: Tenant, zone: str) -> None:
    code, reason, task_id = await send(tenant, tts(tenant, allowSendTimeZone=zone))
    assert code == "0", reason
    assert isinstance(task_id, int) and task_id > 0


async def test_text_variables_over_30_characters_are_truncated(tenant: Tenant, rt: Runtime) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": "8613000000000", "text1": "y" * 40}]
    code, _, task_id = await send(tenant, body)
    assert code == "0"
    async with rt.sessions() as session:
        info = await session.scalar(select(Callee.info).where(Callee.task_id == task_id))
    assert info == {"text1": "y" * 30}


# -- codes from the account and the data ---------------------------------------------------------


async def test_over_100000_numbers_is_rejected_with_minus_23(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": f"8613{i:09d}"} for i in range(100_001)]
    ts = int(clock.now().timestamp())
    resp = await http.post(
        "/v3/voice/group/call/send",
        content=json.dumps(body),
        headers=signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts),
    )
    assert resp.json()["code"] == "-23"


async def test_empty_number_list_is_rejected_with_minus_35(tenant: Tenant) -> None:
    code, _, _ = await send(tenant, tts(tenant, numberInfoList=[]))
    assert code == "-35"


async def test_unknown_app_is_rejected_with_minus_32(tenant: Tenant) -> None:
    code, reason, _ = await send(tenant, tts(tenant, appId="nope1234"))
    assert (code, reason) == ("-32", f"{NO_APP}nope1234")


async def test_another_tenants_voice_file_is_rejected_with_minus_24(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    upload = await other_tenant.client.upload_file("theirs.mp3", audio_b64("mp3", 0.5))
    code, reason, _ = await send(tenant, tts(tenant, source=1, voiceFileId=upload.data))
    assert code == "-24" and "voiceFileId" in reason


async def test_destination_without_a_rate_is_rejected_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    unrated = await make_tenant(rt, app, clock, "unrated", rate=None)
    try:
        code, reason, _ = await send(unrated, tts(unrated))
    finally:
        await unrated.client.aclose()
    assert code == "-26" and "8613000000000" in reason


async def test_account_without_balance_is_rejected_with_minus_10(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal(0), relative=False)
    code, _, _ = await send(tenant, tts(tenant))
    assert code == "-10"


async def test_too_many_active_tasks_is_rejected_with_minus_37(tenant: Tenant, rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await accounts.update_settings(session, tenant.creds.account_id, max_concurrent_tasks=1)
    assert (await send(tenant, tts(tenant, taskName="one")))[0] == "0"
    code, _, _ = await send(tenant, tts(tenant, taskName="two"))
    assert code == "-37"


async def test_tts_without_language_is_rejected_with_minus_38(tenant: Tenant) -> None:
    body = tts(tenant)
    del body["lan"]
    code, reason, _ = await send(tenant, body)
    assert code == "-38" and "lan" in reason


async def test_unknown_language_is_rejected_with_minus_39(tenant: Tenant) -> None:
    code, _, _ = await send(tenant, tts(tenant, lan="XX"))
    assert code == "-39"


async def test_duplicate_task_name_is_rejected_with_minus_41(tenant: Tenant) -> None:
    assert (await send(tenant, tts(tenant)))[0] == "0"
    code, _, _ = await send(tenant, tts(tenant))
    assert code == "-41"


async def test_hang_up_sms_without_a_trigger_is_rejected_with_minus_53(tenant: Tenant) -> None:
    body = tts(tenant, hangUpSms=1, smsAppId="sms1", smsContent="thanks")
    code, _, _ = await send(tenant, body)
    assert code == "-53"


async def test_ai_task_with_unknown_script_is_rejected_with_minus_60(tenant: Tenant) -> None:
    env = await tenant.client.send_group_call_ai(
        appId=tenant.app_id,
        taskName="ai",
        scriptId=0,
        numberInfoList=[{"calleeNumber": "86130000000"}],
    )
    assert env.code == "-60"


async def test_ai_task_is_accepted_with_6_to_18_digit_numbers(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 7)
    env = await tenant.client.send_group_call_ai(
        appId=tenant.app_id,
        taskName="ai",
        scriptId=7,
        enableRecording=1,
        numberInfoList=[{"calleeNumber": "861300"}, {"calleeNumber": "861300000000000000"}],
    )
    assert env.raw == {"code": "0", "msg": "success", "data": env.data}
    assert (await tenant.client.group_call_detail(env.data)).data["taskType"] == 2


async def test_every_path_works_without_the_v3_prefix(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    resp = await http.post("/voice/group/call/send", json=tts(tenant), headers=headers)
    task_id = resp.json()["data"]
    assert resp.json()["code"] == "0"
    detail = await http.get(f"/voice/group/call/detail/{task_id}", headers=headers)
    assert detail.json()["data"]["jobId"] == task_id
