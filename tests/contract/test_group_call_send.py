"""`voice/group/call/send` and `send/ai` against page 001 and catalog §2.1-2.2: what a task
stores, and every code a request can trigger, each test named after the code it proves.
(The page-001 sample, the quick start's body with `//` comments (-18) and the older cases are
in test_codes_group_call.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Tenant, add_script, add_seat_group, make_tenant
from tests.contract.group_call_support import (
    NODE,
    ai,
    audio,
    callee_rows,
    new_ai_task,
    new_task,
    node_rows,
    raw,
    sample,
    set_status,
    task_row,
    tts,
    upload,
)
from voxcast.clock import FixedClock
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Callee, RecallFlow

#: the -32 reason of an appId that is not the caller's, before the appId
NO_APP = "API Key has no permission to access the current application: appId "


async def send(tenant: Tenant, body: dict[str, Any]) -> tuple[str, str, Any]:
    env = await tenant.client.send_group_call(**body)
    return env.code, env.reason, env.data


async def send_ai(tenant: Tenant, body: dict[str, Any]) -> tuple[str, str, Any]:
    env = await tenant.client.send_group_call_ai(**body)
    return env.code, env.reason, env.data


# -- what a task stores ------------------------------------------------------------------------


async def test_page_001_sample_is_stored_as_a_waiting_task_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    body = sample("callSend.json")
    body["appId"] = tenant.app_id
    await add_seat_group(rt, tenant, 1000019)  # the sample transfers to this agent group
    env = await tenant.client.send_group_call(**body)
    assert env.raw == {"code": "0", "msg": "success", "data": env.data}, env.reason
    task = await task_row(rt, env.data)
    assert (task.kind, task.status, task.num_cnt, task.source) == (
        TaskKind.GROUP,
        TaskStatus.WAITING,
        1,
        3,
    )
    # the settings are kept as given, the numbers are not
    assert task.params["toSeat"] == 1 and task.params["sipGroupId"] == 1000019
    assert task.params["smsContent"] == "123" and task.params["delayTransfer"] == 30
    assert not {"numberInfoList", "numberList", "baseFile", "recallFlow"} & set(task.params)
    assert await callee_rows(rt, env.data) == [
        (1, "8613000000001", {"text1": "tom", "text2": "$12451.12", "text3": "2025-3-21"})
    ]
    detail = (await tenant.client.group_call_detail(env.data)).data
    assert (detail["lan"], detail["displayNum"], detail["maxCalls"], detail["code"]) == (
        "VN",
        "1008122211",
        40,
        "86",
    )
    assert detail["sendTime"] == "2024-06-21 00:00:00"


async def test_quick_start_sample_truncates_callee_texts_to_30_characters(
    tenant: Tenant, rt: Runtime
) -> None:
    body = sample("quickstart_send.json")
    body.update(appId=tenant.app_id, voiceFileId=await upload(tenant, "reminder.m4a"))
    code, reason, task_id = await send(tenant, body)
    assert code == "0", reason
    url = "https://itniotech.cn/api/voice/callSend/"
    assert await callee_rows(rt, task_id) == [
        (1, "9113000000001", {"text1": url[:30]}),
        (2, "9113000000002", {"text1": url[:30]}),
    ]


async def test_duplicate_numbers_keep_the_first_occurrence_with_its_texts(
    tenant: Tenant, rt: Runtime
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [
        {"calleeNumber": "8613000000001", "text1": "first"},
        {"calleeNumber": "8613000000002"},
        {"calleeNumber": "8613000000001", "text1": "second"},
    ]
    code, _, task_id = await send(tenant, body)
    assert code == "0"
    assert await callee_rows(rt, task_id) == [
        (1, "8613000000001", {"text1": "first"}),
        (2, "8613000000002", None),
    ]
    assert (await task_row(rt, task_id)).num_cnt == 2


async def test_numbers_are_accepted_as_json_numbers_and_texts_as_numbers(
    tenant: Tenant, rt: Runtime
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": 8613000000001, "text1": 42}]
    code, reason, task_id = await send(tenant, body)
    assert code == "0", reason
    assert await callee_rows(rt, task_id) == [(1, "8613000000001", {"text1": "42"})]


async def test_source_2_stores_the_upload_and_keeps_its_id_not_the_base64(
    tenant: Tenant, rt: Runtime
) -> None:
    body = tts(tenant, source=2, uploadName="welcome.wav", baseFile=audio(), text=None, lan=None)
    code, reason, task_id = await send(tenant, body)
    assert code == "0", reason
    task = await task_row(rt, task_id)
    assert task.voice_file_id and task.voice_file_id.endswith(".wav")
    assert "baseFile" not in task.params and task.params["uploadName"] == "welcome.wav"
    # the stored file is the account's: a later task can play it by id
    again = tts(tenant, "reuse", source=1, voiceFileId=task.voice_file_id)
    assert (await send(tenant, again))[0] == "0"


async def test_recall_flow_creates_a_pending_flow_with_recall_num_nodes(
    tenant: Tenant, rt: Runtime
) -> None:
    flow = {"recallType": 0, "recallInterval": 15, "recallNum": 3, "nodeList": [NODE]}
    task_id = await new_task(tenant, recallFlow=flow)
    async with rt.sessions() as session:
        row = await session.scalar(select(RecallFlow).where(RecallFlow.task_id == task_id))
    assert row is not None
    assert (row.status, row.recall_type, row.recall_interval, row.recall_num, row.finish_num) == (
        0,
        0,
        15,
        3,
        0,
    )
    nodes = await node_rows(rt, row.id)
    assert [(n.seq, n.status, n.task_id) for n in nodes] == [
        (1, 0, None),
        (2, 0, None),
        (3, 0, None),
    ]
    assert nodes[0].params == NODE and nodes[1].params == {} and nodes[2].params == {}


async def test_recall_node_with_source_2_stores_its_upload(tenant: Tenant, rt: Runtime) -> None:
    node = {**NODE, "source": 2, "uploadName": "again.wav", "baseFile": audio()}
    flow = {"recallType": 1, "recallInterval": 5, "recallNum": 1, "nodeList": [node]}
    task_id = await new_task(tenant, recallFlow=flow)
    async with rt.sessions() as session:
        flow_id = await session.scalar(select(RecallFlow.id).where(RecallFlow.task_id == task_id))
    assert flow_id is not None
    (stored,) = await node_rows(rt, flow_id)
    assert "baseFile" not in stored.params and str(stored.params["voiceFileId"]).endswith(".wav")


async def test_without_send_time_or_windows_a_task_is_immediate(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant, sendTime=None)
    assert (await task_row(rt, task_id)).send_time is None


async def test_send_time_is_read_in_the_accounts_time_zone(tenant: Tenant, rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await accounts.update_settings(session, tenant.creds.account_id, timezone="Asia/Shanghai")
    task_id = await new_task(tenant, sendTime="2026-03-02 18:00:00")
    task = await task_row(rt, task_id)
    assert task.send_time is not None and task.send_time.hour == 10  # 18:00 +08:00 is 10:00 UTC
    detail = (await tenant.client.group_call_detail(task_id)).data
    assert detail["sendTime"] == "2026-03-02 18:00:00"


async def test_sip_group_id_must_be_an_agent_group_of_the_app(tenant: Tenant, rt: Runtime) -> None:
    seat = {"toSeat": 1, "sipGroupId": 424242, "outboundControl": 1, "calloutRate": 3}
    code, reason, _ = await send(tenant, tts(tenant, toSeatType=1, **seat))
    assert code == "-74" and "sipGroupId" in reason
    await add_seat_group(rt, tenant, 424242)
    assert (await send(tenant, tts(tenant, toSeatType=1, **seat)))[0] == "0"


@pytest.mark.slow
async def test_100000_numbers_are_accepted_in_one_request(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [
        {"calleeNumber": f"8613{i:09d}", "text1": f"n{i}"} for i in range(100_000)
    ]
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send", body)
    assert got["code"] == "0", got
    async with rt.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Callee).where(Callee.task_id == got["data"])
        )
        last = await session.scalar(
            select(Callee.info).where(Callee.task_id == got["data"], Callee.seq == 100_000)
        )
    assert count == 100_000 and last == {"text1": "n99999"}


@pytest.mark.slow
async def test_200000_numbers_in_the_old_number_list_are_accepted_in_one_request(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    body = tts(tenant, numberInfoList=None)
    body["numberList"] = [f"8613{i:09d}" for i in range(200_000)]
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send", body)
    assert got["code"] == "0", got
    async with rt.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Callee).where(Callee.task_id == got["data"])
        )
        last = await session.scalar(
            select(Callee.callee).where(Callee.task_id == got["data"], Callee.seq == 200_000)
        )
    assert (count, last) == (200_000, "8613000199999")


# -- -22 Parameter exception -------------------------------------------------------------------

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("no appId", {"appId": None}, "appId"),
    ("no source", {"source": None}, "source"),
    ("no loopCount", {"loopCount": None}, "loopCount"),
    ("no maxCalls", {"maxCalls": None}, "maxCalls"),
    ("maxCalls 0", {"maxCalls": 0}, "maxCalls"),
    ("delayHangup -1", {"delayHangup": -1}, "delayHangup"),
    ("speakingRate 0.2", {"speakingRate": 0.2}, "speakingRate"),
    ("text over 1000", {"text": "x" * 1001}, "text"),
    ("uploadName of 4", {"source": 2, "uploadName": "a.mp", "baseFile": "AA=="}, "uploadName"),
    ("senderId over 32", {"senderId": "s" * 33}, "senderId"),
    ("smsContent over 1000", {"smsContent": "s" * 1001}, "smsContent"),
    ("displayNum not digits", {"displayNum": "12ab"}, "displayNum"),
    ("toSeatType 3", {"toSeatType": 3}, "toSeatType"),
    ("outboundControl 2", {"outboundControl": 2}, "outboundControl"),
    ("successPushTime 10000", {"successPushTime": 10000}, "successPushTime"),
    ("hangUpSms 2", {"hangUpSms": 2}, "hangUpSms"),
    (
        "hangUpSms without smsAppId",
        {"hangUpSms": 1, "smsContent": "x", "ringPush": 1},
        "smsAppId",
    ),
    (
        "feedbackValue not a key",
        {
            "hangUpSms": 1,
            "smsAppId": "s",
            "smsContent": "x",
            "feedbackPush": 1,
            "feedbackValue": "a",
        },
        "feedbackValue",
    ),
    (
        "toSeat without toSeatType",
        {"toSeat": 1, "sipGroupId": 5, "outboundControl": 1, "calloutRate": 1},
        "toSeatType",
    ),
    ("NUL in taskName", {"taskName": "bad\u0000name"}, "taskName"),
    ("NUL in text", {"text": "hello\u0000"}, "text"),
    ("optOutText over 1000", {"optOutKey": "9", "optOutText": "x" * 1001}, "optOutText"),
    ("NUL in optOutText", {"optOutKey": "9", "optOutText": "bye\u0000"}, "optOutText"),
    (
        "window without endTime",
        {"allowSendTime": [{"strTime": "08:00"}]},
        "allowSendTime[0].endTime",
    ),
    ("numberInfoList of strings", {"numberInfoList": ["8613000000000"]}, "numberInfoList[0]"),
    (
        "recallInterval 1441",
        {"recallFlow": {"recallType": 0, "recallInterval": 1441, "recallNum": 1}},
        "recallFlow.recallInterval",
    ),
    (
        "recallNum 11",
        {"recallFlow": {"recallType": 0, "recallInterval": 5, "recallNum": 11}},
        "recallFlow.recallNum",
    ),
    (
        "recallType 2",
        {"recallFlow": {"recallType": 2, "recallInterval": 5, "recallNum": 1}},
        "recallFlow.recallType",
    ),
    (
        "recall node without toSeat",
        {
            "recallFlow": {
                "recallType": 0,
                "recallInterval": 5,
                "recallNum": 1,
                "nodeList": [{"source": 3, "text": "x", "lan": "EN", "hangUpSms": 0}],
            }
        },
        "recallFlow.nodeList[0].toSeat",
    ),
    (
        "recall node without source",
        {
            "recallFlow": {
                "recallType": 0,
                "recallInterval": 5,
                "recallNum": 1,
                "nodeList": [{"hangUpSms": 0, "toSeat": 0}],
            }
        },
        "recallFlow.nodeList[0].source",
    ),
]


@pytest.mark.parametrize(("case", "changes", "field"), BAD, ids=[c[0] for c in BAD])
async def test_bad_field_is_rejected_with_minus_22_naming_it(
    tenant: Tenant, case: str, changes: dict[str, Any], field: str
) -> None:
    code, reason, _ = await send(tenant, tts(tenant, **changes))
    assert code == "-22", reason
    assert field in reason


async def test_bad_number_in_the_old_number_list_is_rejected_with_minus_22(tenant: Tenant) -> None:
    body = tts(tenant, numberInfoList=None, numberList=["8613000000000", "+8613000000001"])
    code, reason, _ = await send(tenant, body)
    assert code == "-22" and "numberList[1]" in reason


async def test_variable_of_the_sms_needs_a_text_for_every_number_with_minus_22(
    tenant: Tenant,
) -> None:
    sms = {"hangUpSms": 1, "smsAppId": "s", "smsContent": "Pay via ${text3}", "failedPush": 1}
    body = tts(tenant, numberInfoList=None, numberList=["8613000000000"], **sms)
    code, reason, _ = await send(tenant, body)
    assert code == "-22" and "numberList[0].text3" in reason


async def test_variable_of_a_recall_node_needs_a_text_for_every_number_with_minus_22(
    tenant: Tenant,
) -> None:
    node = {**NODE, "text": "Hi ${text2}"}
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1, "nodeList": [node]}
    code, reason, _ = await send(tenant, tts(tenant, recallFlow=flow))
    assert code == "-22" and "numberInfoList[0].text2" in reason


# -- -11 Incorrect time format ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sendTime": "2026-3-2 09:00:00"}, "sendTime"),
        ({"sendTime": "2026-02-30 09:00:00"}, "sendTime"),
        ({"sendTime": "2026-03-02T09:00:00"}, "sendTime"),
        (
            {
                "allowSendTime": [
                    {"strTime": "08:00", "endTime": "09:00"},
                    {"strTime": "10:00", "endTime": "10.30"},
                ]
            },
            "allowSendTime[1].endTime",
        ),
    ],
)
async def test_bad_time_is_rejected_with_minus_11_naming_it(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    code, reason, _ = await send(tenant, tts(tenant, **changes))
    assert code == "-11" and reason.startswith("Incorrect time format") and field in reason


async def test_more_than_3_windows_is_rejected_with_minus_22(tenant: Tenant) -> None:
    windows = [{"strTime": f"0{h}:00", "endTime": f"0{h}:30"} for h in range(4)]
    code, reason, _ = await send(tenant, tts(tenant, allowSendTime=windows))
    assert code == "-22" and "allowSendTime" in reason


# -- codes from stored data and the account -----------------------------------------------------


async def test_upload_name_already_used_is_rejected_with_minus_20(tenant: Tenant) -> None:
    await upload(tenant, "taken.wav")
    body = tts(tenant, source=2, uploadName="taken.wav", baseFile=audio())
    code, reason, _ = await send(tenant, body)
    assert code == "-20" and "uploadName" in reason


@pytest.mark.parametrize("base_file", ["not base64!", "AAAAAAAAAAAAAAAA"])
async def test_base_file_that_is_not_audio_is_rejected_with_minus_21(
    tenant: Tenant, base_file: str
) -> None:
    body = tts(tenant, source=2, uploadName="broken.mp3", baseFile=base_file)
    code, reason, _ = await send(tenant, body)
    assert code == "-21" and "baseFile" in reason


async def test_over_200000_numbers_in_the_old_list_is_rejected_with_minus_23(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = tts(tenant, numberInfoList=None)
    body["numberList"] = [f"8613{i:09d}" for i in range(200_001)]
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send", body)
    assert (got["code"], got["msg"]) == (
        "-23",
        "Data caps: numberList: 200001 numbers, at most 200000",
    )


async def test_over_100000_objects_in_number_info_list_are_still_rejected_with_minus_23(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = tts(tenant)
    body["numberInfoList"] = [{"calleeNumber": f"8613{i:09d}"} for i in range(100_001)]
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/send", body)
    assert (got["code"], got["msg"]) == (
        "-23",
        "Data caps: numberInfoList: 100001 numbers, at most 100000",
    )


async def test_unknown_voice_file_is_rejected_with_minus_24(tenant: Tenant) -> None:
    body = tts(tenant, source=1, voiceFileId="120260302aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.mp3")
    code, reason, _ = await send(tenant, body)
    assert code == "-24" and "voiceFileId" in reason


async def test_unknown_file_in_a_recall_node_is_rejected_with_minus_24(tenant: Tenant) -> None:
    node = {**NODE, "source": 1, "voiceFileId": "nope.wav"}
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1, "nodeList": [node]}
    code, reason, _ = await send(tenant, tts(tenant, recallFlow=flow))
    assert code == "-24" and "recallFlow.nodeList[0].voiceFileId" in reason


async def test_number_outside_the_rate_book_is_rejected_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    china_only = await make_tenant(rt, app, clock, "china only", rate=None)
    async with rt.sessions.begin() as session:
        await rates.set_rate(session, china_only.creds.account_id, "86", Decimal("0.02"))
    try:
        body = tts(china_only, numberInfoList=None, numberList=["8613000000000", "4420000000000"])
        code, reason, _ = await send(china_only, body)
        assert code == "-26" and "4420000000000" in reason
        ok = tts(china_only, "china", numberInfoList=None, numberList=["8613000000000"])
        assert (await send(china_only, ok))[0] == "0"
    finally:
        await china_only.client.aclose()


async def test_negative_balance_is_rejected_with_minus_10(tenant: Tenant, rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal("-5"), relative=False)
    assert (await send(tenant, tts(tenant)))[0] == "-10"
    assert (await send_ai(tenant, ai(tenant)))[0] == "-10"


@pytest.mark.parametrize("body", [{"numberList": []}, {"numberInfoList": []}, {}])
async def test_no_number_is_rejected_with_minus_35(tenant: Tenant, body: dict[str, Any]) -> None:
    request = tts(tenant, numberInfoList=None)
    request.update(body)
    assert (await send(tenant, request))[0] == "-35"


async def test_paused_and_ai_tasks_count_towards_the_limit_minus_37_and_ended_ones_do_not(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    async with rt.sessions.begin() as session:
        await accounts.update_settings(session, tenant.creds.account_id, max_concurrent_tasks=2)
    paused = await new_task(tenant, "paused")
    await set_status(rt, paused, TaskStatus.SUSPENDED)
    await new_ai_task(tenant, "robot")
    assert (await send(tenant, tts(tenant, "third")))[0] == "-37"
    assert (await send_ai(tenant, ai(tenant, "third ai")))[0] == "-37"
    await set_status(rt, paused, TaskStatus.CANCELED)
    assert (await send(tenant, tts(tenant, "third")))[0] == "0"


async def test_language_of_a_recall_node_is_checked_with_minus_39(tenant: Tenant) -> None:
    flow = {
        "recallType": 0,
        "recallInterval": 5,
        "recallNum": 1,
        "nodeList": [{**NODE, "lan": "XX"}],
    }
    code, reason, _ = await send(tenant, tts(tenant, recallFlow=flow))
    assert code == "-39" and "recallFlow.nodeList[0].lan" in reason


async def test_tts_without_text_is_rejected_with_minus_38(tenant: Tenant) -> None:
    code, reason, _ = await send(tenant, tts(tenant, text=None))
    assert code == "-38" and "text" in reason


async def test_lower_case_language_is_accepted_and_stored_upper_case(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant, lan="vn")
    assert (await task_row(rt, task_id)).lan == "VN"


async def test_opt_out_key_and_its_confirmation_text_are_stored(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant, optOutKey="9", optOutText="We will not call again.")
    params = (await task_row(rt, task_id)).params
    assert (params["optOutKey"], params["optOutText"]) == ("9", "We will not call again.")


async def test_name_of_an_ai_task_is_taken_minus_41_but_free_for_another_account(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    await new_ai_task(tenant, "shared name")
    assert (await send(tenant, tts(tenant, "shared name")))[0] == "-41"
    assert (await send(other_tenant, tts(other_tenant, "shared name")))[0] == "0"


async def test_recall_node_sms_without_a_trigger_is_rejected_with_minus_53(
    tenant: Tenant,
) -> None:
    node = {**NODE, "hangUpSms": 1, "smsContent": "we called"}
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1, "nodeList": [node]}
    code, reason, _ = await send(tenant, tts(tenant, recallFlow=flow))
    assert code == "-53" and "recallFlow.nodeList[0]" in reason


# -- send/ai -------------------------------------------------------------------------------------


async def test_ai_task_is_stored_with_its_script_and_kind(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 7)
    flow = {"recallType": 1, "recallInterval": 5, "recallNum": 2, "nodeList": [{"scriptId": 9}]}
    task_id = await new_ai_task(tenant, enableRecording=1, calloutRate=2, recallFlow=flow)
    task = await task_row(rt, task_id)
    assert (task.kind, task.status, task.script_id) == (TaskKind.AI, 0, 7)
    assert task.params["enableRecording"] == 1
    # a conversation outlasts a broadcast: without maxCalls an AI call may talk 300 s
    assert task.max_calls == 300
    query = await tenant.client.query_group_calls(taskType=2)
    assert [r["taskId"] for r in query.data["records"]] == [task_id]
    flows = await tenant.client.query_recall_flows(taskName=str(task_id))
    detail = await tenant.client.recall_flow_detail(flows.data["records"][0]["keyId"])
    assert [n["scriptId"] for n in detail.data["nodeList"]] == [9, None]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scriptId": None}, "scriptId"),
        ({"numberInfoList": [{"calleeNumber": "86130"}]}, "numberInfoList[0].calleeNumber"),
        ({"numberInfoList": [{"calleeNumber": "8" * 19}]}, "numberInfoList[0].calleeNumber"),
        ({"numberInfoList": None, "numberList": ["8" * 19]}, "numberList[0]"),
        ({"enableRecording": 2}, "enableRecording"),
        ({"calloutRate": 0}, "calloutRate"),
        ({"maxRingingTime": 121}, "maxRingingTime"),
    ],
)
async def test_bad_ai_field_is_rejected_with_minus_22(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    body = ai(tenant)
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    code, reason, _ = await send_ai(tenant, body)
    assert code == "-22" and field in reason


@pytest.mark.parametrize(
    "changes",
    [
        {"scriptId": -1},
        {
            "recallFlow": {
                "recallType": 0,
                "recallInterval": 5,
                "recallNum": 1,
                "nodeList": [{"scriptId": 0}],
            }
        },
    ],
)
async def test_ai_script_that_cannot_exist_is_rejected_with_minus_60(
    tenant: Tenant, changes: dict[str, Any]
) -> None:
    code, reason, _ = await send_ai(tenant, ai(tenant, **changes))
    assert code == "-60" and "scriptId" in reason


async def test_ai_task_of_another_accounts_app_is_rejected_with_minus_32(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    code, reason, _ = await send_ai(tenant, ai(tenant, appId=other_tenant.app_id))
    assert (code, reason) == ("-32", f"{NO_APP}{other_tenant.app_id}")
