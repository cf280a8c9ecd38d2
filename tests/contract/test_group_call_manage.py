"""Managing group-call tasks (catalog §2.4-2.8): update, resend (page 003), query, detail, pause,
resume and cancel, with every code a request can trigger, each test named after its code.
(More cases of the same endpoints are in test_codes_task_manage.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Tenant, add_script
from tests.contract.group_call_support import (
    audio,
    callee_rows,
    finish,
    new_ai_task,
    new_flow,
    new_task,
    raw,
    set_flow_status,
    set_status,
    task_row,
    tts,
    upload,
)
from voxcast.clock import FixedClock
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Task


def update_body(task_id: int, name: str = "renamed", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "keyId": task_id,
        "taskName": name,
        "source": 3,
        "text": "Changed",
        "lan": "EN",
        "loopCount": 1,
        "maxCalls": 30,
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# -- update ---------------------------------------------------------------------------------------


async def test_update_keeps_the_numbers_when_no_list_is_given(tenant: Tenant, rt: Runtime) -> None:
    task_id = await new_task(tenant, numbers=["8613000000001", "8613000000002"])
    env = await tenant.client.update_group_call(**update_body(task_id, delayPlay=3))
    assert env.raw == {"status": "0", "reason": "success", "data": None}, env.reason
    assert [c for _, c, _ in await callee_rows(rt, task_id)] == ["8613000000001", "8613000000002"]
    task = await task_row(rt, task_id)
    assert (task.task_name, task.text, task.delay_play, task.status) == ("renamed", "Changed", 3, 0)


async def test_update_replaces_the_numbers_and_the_settings(tenant: Tenant, rt: Runtime) -> None:
    task_id = await new_task(tenant, hangUpSms=1, smsAppId="s", smsContent="x", ringPush=1)
    numbers = [{"calleeNumber": "8613000000009", "text1": "Ann"}]
    env = await tenant.client.update_group_call(**update_body(task_id, numberInfoList=numbers))
    assert env.code == "0", env.reason
    assert await callee_rows(rt, task_id) == [(1, "8613000000009", {"text1": "Ann"})]
    task = await task_row(rt, task_id)
    assert task.num_cnt == 1 and "hangUpSms" not in task.params  # the request replaces settings


async def test_update_may_keep_its_own_name(tenant: Tenant) -> None:
    task_id = await new_task(tenant, "same")
    assert (await tenant.client.update_group_call(**update_body(task_id, "same"))).code == "0"


async def test_update_to_source_2_stores_the_upload(tenant: Tenant, rt: Runtime) -> None:
    task_id = await new_task(tenant)
    body = update_body(task_id, source=2, uploadName="new.wav", baseFile=audio(), text=None)
    assert (await tenant.client.update_group_call(**body)).code == "0"
    task = await task_row(rt, task_id)
    assert task.source == 2 and str(task.voice_file_id).endswith(".wav")


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (TaskStatus.CALLING, "calling"),
        (TaskStatus.FINISHED, "finished"),
        (TaskStatus.CANCELED, "canceled"),
        (TaskStatus.SUSPENDED, "suspended"),
        (TaskStatus.SUBMITTING, "submitting"),
    ],
)
async def test_update_of_a_task_that_is_not_waiting_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime, status: TaskStatus, name: str
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    env = await tenant.client.update_group_call(**update_body(task_id))
    assert env.code == "-54" and env.reason.startswith("The task you submitted is wrong")
    assert name in env.reason


async def test_update_ai_of_a_normal_task_is_rejected_with_minus_54(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.update_group_call_ai(keyId=task_id, taskName="x2", scriptId=3)
    assert env.code == "-54"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"loopCount": 10}, "-22", "loopCount"),
        ({"source": None}, "-22", "source"),
        ({"taskName": "x"}, "-22", "taskName"),
        ({"sendTime": "soon"}, "-11", "sendTime"),
        ({"allowSendTime": [{"strTime": "7", "endTime": "8"}]}, "-11", "allowSendTime[0].strTime"),
        ({"numberList": []}, "-35", "numberInfoList"),
        ({"numberInfoList": [], "numberList": []}, "-35", "numberInfoList"),
        ({"text": None}, "-38", "text"),
        ({"lan": "ZZ"}, "-39", "lan"),
        ({"hangUpSms": 1, "smsAppId": "s", "smsContent": "x"}, "-53", "ringPush"),
        ({"source": 1, "voiceFileId": "missing.wav", "text": None}, "-24", "voiceFileId"),
        ({"appId": "noSuchApp"}, "-32", "appId"),
    ],
)
async def test_update_applies_the_send_rules(
    tenant: Tenant, changes: dict[str, Any], code: str, field: str
) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.update_group_call(**update_body(task_id, **changes))
    assert env.code == code and field in env.reason, env.reason


async def test_update_with_numbers_that_lack_a_used_variable_is_rejected_with_minus_22(
    tenant: Tenant,
) -> None:
    task_id = await new_task(tenant)
    body = update_body(task_id, text="Hi ${text1}", numberList=["8613000000001"])
    env = await tenant.client.update_group_call(**body)
    assert env.code == "-22" and "numberList[0].text1" in env.reason


async def test_update_must_keep_the_variables_of_pending_recall_nodes_minus_22(
    tenant: Tenant,
) -> None:
    numbers = [{"calleeNumber": "8613000000001", "text1": "Ann"}]
    node = {"source": 3, "text": "Hi ${text1}", "lan": "EN", "hangUpSms": 0, "toSeat": 0}
    task_id, _, _ = await new_flow(
        tenant, task={"numberInfoList": numbers}, nodeList=[node], recallNum=1
    )
    env = await tenant.client.update_group_call(
        **update_body(task_id, numberList=["8613000000002"])
    )
    assert env.code == "-22" and "numberList[0].text1" in env.reason


async def test_update_to_another_tasks_name_is_rejected_with_minus_41(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    await new_ai_task(tenant, "robot")
    task_id = await new_task(tenant)
    env = await tenant.client.update_group_call(**update_body(task_id, "robot"))
    assert env.code == "-41"


async def test_update_ai_replaces_numbers_and_checks_its_script_minus_60(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7, 5)
    task_id = await new_ai_task(tenant)
    env = await tenant.client.update_group_call_ai(
        keyId=task_id, taskName="robot 2", scriptId=5, numberList=["861300"]
    )
    assert env.raw == {"status": "0", "reason": "success", "data": None}, env.reason
    assert [c for _, c, _ in await callee_rows(rt, task_id)] == ["861300"]
    bad = await tenant.client.update_group_call_ai(keyId=task_id, taskName="robot 2", scriptId=0)
    assert bad.code == "-60"
    empty = await tenant.client.update_group_call_ai(
        keyId=task_id, taskName="robot 2", scriptId=5, numberInfoList=[]
    )
    assert empty.code == "-35"


async def test_update_with_a_non_positive_key_id_is_rejected_with_minus_22(
    tenant: Tenant,
) -> None:
    env = await tenant.client.update_group_call(**update_body(0))
    assert env.code == "-22" and "keyId" in env.reason


# -- resend ---------------------------------------------------------------------------------------


async def test_resend_copies_the_settings_and_overrides_the_given_fields(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant, loopCount=3, delayPlay=2, displayNum="12345")
    await set_status(rt, task_id, TaskStatus.CANCELED)  # never dialed: every number "failed"
    env = await tenant.client.resend_group_call(
        keyId=task_id, taskName="again", resendType=1, source=3, text="Second", lan="DE"
    )
    assert env.raw["status"] == "0" and isinstance(env.data, int), env.reason
    new = await task_row(rt, env.data)
    assert (new.parent_task_id, new.status, new.loop_count, new.delay_play, new.display_num) == (
        task_id,
        0,
        3,
        2,
        "12345",
    )
    assert (new.text, new.lan, new.num_cnt) == ("Second", "DE", 2)


async def test_resend_of_an_uploaded_prompt_plays_the_stored_file(
    tenant: Tenant, rt: Runtime
) -> None:
    body = tts(tenant, source=2, uploadName="first.wav", baseFile=audio(), text=None, lan=None)
    sent = await tenant.client.send_group_call(**body)
    assert sent.code == "0", sent.reason
    await finish(rt, sent.data, answered=set())
    env = await tenant.client.resend_group_call(keyId=sent.data, taskName="again", resendType=0)
    assert env.code == "0", env.reason
    original, again = await task_row(rt, sent.data), await task_row(rt, env.data)
    assert again.voice_file_id == original.voice_file_id and again.source == 1


@pytest.mark.parametrize(
    "status",
    [TaskStatus.WAITING, TaskStatus.CALLING, TaskStatus.SUSPENDED, TaskStatus.SUBMITTING],
)
async def test_resend_of_a_task_not_ended_is_rejected_with_minus_42(
    tenant: Tenant, rt: Runtime, status: TaskStatus
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="again", resendType=0)
    assert env.code == "-42" and "keyId" in env.reason


async def test_resend_when_every_number_answered_is_rejected_with_minus_34(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7, 1)
    task_id = await new_ai_task(tenant)
    await finish(rt, task_id, answered={"8613000000000"})
    env = await tenant.client.resend_group_call_ai(
        keyId=task_id, taskName="again", resendType=1, scriptId=1
    )
    assert env.code == "-34"
    everyone = await tenant.client.resend_group_call_ai(
        keyId=task_id, taskName="again", resendType=0, scriptId=1
    )
    assert everyone.code == "0", everyone.reason


async def test_resend_over_the_task_limit_is_rejected_with_minus_37(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    await finish(rt, task_id, answered=set())
    async with rt.sessions.begin() as session:
        await accounts.update_settings(session, tenant.creds.account_id, max_concurrent_tasks=1)
    await new_task(tenant, "busy")
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="again", resendType=0)
    assert env.code == "-37"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"resendType": 2}, "-22", "resendType"),
        ({"taskName": None}, "-22", "taskName"),
        ({"sendTime": "2026-03-02"}, "-11", "sendTime"),
        ({"lan": "XX"}, "-39", "lan"),
        ({"text": ""}, "-38", "text"),
        ({"keyId": 999_999}, "-24", "999999"),
        ({"taskName": "task"}, "-41", "taskName"),
    ],
)
async def test_resend_applies_the_send_rules(
    tenant: Tenant, rt: Runtime, changes: dict[str, Any], code: str, field: str
) -> None:
    task_id = await new_task(tenant)
    await finish(rt, task_id, answered=set())
    body: dict[str, Any] = {"keyId": task_id, "taskName": "again", "resendType": 0}
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    env = await tenant.client.resend_group_call(**body)
    assert env.code == code and field in env.reason, env.reason


async def test_resend_ai_of_a_normal_task_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    await finish(rt, task_id, answered=set())
    env = await tenant.client.resend_group_call_ai(
        keyId=task_id, taskName="again", resendType=0, scriptId=1
    )
    assert env.code == "-54"


async def test_resend_ai_with_an_impossible_script_is_rejected_with_minus_60(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    task_id = await new_ai_task(tenant)
    await finish(rt, task_id, answered=set())
    env = await tenant.client.resend_group_call_ai(
        keyId=task_id, taskName="again", resendType=0, scriptId=-3
    )
    assert env.code == "-60"


# -- query -----------------------------------------------------------------------------------------


async def test_query_record_has_the_vendor_fields(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.query_group_calls()
    assert env.raw["code"] == "0" and env.raw["msg"] == "success"
    assert {k: env.data[k] for k in ("total", "size", "current", "pages", "searchCount")} == {
        "total": 1,
        "size": 10,
        "current": 1,
        "pages": 1,
        "searchCount": True,
    }
    (rec,) = env.data["records"]
    assert rec == {
        "taskId": task_id,
        "jobId": task_id,
        "taskName": "task",
        "status": 0,
        "rate": "0.00%",
        "numCnt": 2,
        "callNum": 0,
        "success": 0,
        "fail": 0,
        "createdTime": "2026-03-02 09:00:00",
        "scriptId": None,
        "taskType": 1,
    }


async def test_query_filters_by_created_time_app_type_and_text(
    tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    first = await new_task(tenant, "Spring Sale")
    clock.advance(timedelta(hours=2).total_seconds())
    second = await new_ai_task(tenant, "robot")
    third = await new_task(tenant, "100%_done", text="Your PARCEL is here")

    async def ids(**params: Any) -> list[int]:
        env = await tenant.client.query_group_calls(size=100, **params)
        assert env.code == "0", env.reason
        return [r["taskId"] for r in env.data["records"]]

    assert await ids() == [third, second, first]
    assert await ids(strTime="2026-03-02 10:00:00") == [third, second]
    assert await ids(endTime="2026-03-02 10:00:00") == [first]
    assert await ids(taskType=2) == [second] and await ids(taskType=3) == []
    assert await ids(idxAppId=tenant.app_id) == [third, second, first]
    assert await ids(idxAppId="otherApp") == []
    assert await ids(searchCondition="spring sale") == [first]  # case does not matter
    assert await ids(searchCondition="parcel") == [third]  # the TTS text
    assert await ids(searchCondition="%") == [third]  # taken literally
    assert await ids(searchCondition="1_0") == []


async def test_query_finds_a_task_by_its_voice_file_id(tenant: Tenant) -> None:
    file_id = await upload(tenant, "hello.wav")
    task_id = await new_task(tenant, source=1, voiceFileId=file_id, text=None)
    env = await tenant.client.query_group_calls(searchCondition=file_id[5:20])
    assert [r["taskId"] for r in env.data["records"]] == [task_id]


async def test_query_never_lists_single_sends(tenant: Tenant) -> None:
    sent = await tenant.client.send_code(
        callee="8613000000000", language="EN", text="code 1234", appId=tenant.app_id
    )
    assert sent.code == "0", sent.reason
    assert (await tenant.client.query_group_calls()).data["total"] == 0


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"current": 1, "size": 101}, "-22", "size"),
        ({"current": 1, "size": 0}, "-22", "size"),
        ({"current": 0, "size": 10}, "-22", "current"),
        ({"params": {"strTime": "2026-03-02"}}, "-11", "params.strTime"),
        ({"params": {"endTime": "yesterday"}}, "-11", "params.endTime"),
        ({"params": {"taskType": 4}}, "-22", "taskType"),
        ({"params": {"statusList": ["calling"]}}, "-22", "statusList"),
    ],
)
async def test_bad_query_is_rejected_naming_the_field(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    got = await raw(http, tenant, clock, "POST", "/v3/voice/group/call/query", body)
    assert got["code"] == code and field in got["msg"], got


# -- detail ----------------------------------------------------------------------------------------

DETAIL_FIELDS = [
    "jobId",
    "taskName",
    "displayNum",
    "text",
    "status",
    "rate",
    "numCnt",
    "chargeLen",
    "success",
    "fail",
    "toseatNum",
    "successRate",
    "toseatNumRate",
    "sendTime",
    "createdTime",
    "mdfTime",
    "appId",
    "source",
    "voiceFileId",
    "calloutRate",
    "finishTime",
    "keyFeedbackNum",
    "uploadName",
    "callLossNum",
    "callDuration",
    "callLossNumRate",
    "code",
    "maxCalls",
    "loopCount",
    "lan",
    "allCallToseatNum",
    "callTotal",
    "acd",
    "called",
    "answered",
    "failed",
    "pending",
    "statusReason",
]


async def test_detail_has_every_field_of_the_vendor_page_and_voxcast_counters(
    tenant: Tenant,
) -> None:
    task_id = await new_task(tenant, calloutRate=2)
    env = await tenant.client.group_call_detail(task_id)
    assert env.raw["code"] == "0"
    missing = [f for f in DETAIL_FIELDS if f not in env.data]
    assert missing == []
    d = env.data
    assert (d["jobId"], d["status"], d["numCnt"], d["pending"], d["called"]) == (
        task_id,
        0,
        2,
        2,
        0,
    )
    assert (d["rate"], d["successRate"], d["createdTime"]) == (
        "0.00%",
        "0.00%",
        "2026-03-02 09:00:00",
    )
    assert (d["calloutRate"], d["code"], d["appId"]) == (2, "86", tenant.app_id)


@pytest.mark.parametrize("task_id", ["abc", "0", "-1", "1.5", "99999999999"])
async def test_detail_of_an_id_that_is_not_a_task_id_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, task_id: str
) -> None:
    got = await raw(http, tenant, clock, "GET", f"/voice/group/call/detail/{task_id}")
    assert got["code"] == "-22"


async def test_detail_of_a_single_send_is_rejected_with_minus_24(
    tenant: Tenant, rt: Runtime
) -> None:
    sent = await tenant.client.send_code(
        callee="8613000000000", language="EN", text="code 1234", appId=tenant.app_id
    )
    assert sent.code == "0", sent.reason
    async with rt.sessions() as session:
        code_task = await session.scalar(select(Task.id).where(Task.kind == TaskKind.CODE))
    assert code_task is not None
    assert (await tenant.client.group_call_detail(code_task)).code == "-24"
    assert (await tenant.client.pause_group_calls([code_task])).code == "-24"


# -- pause, resume, cancel -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [TaskStatus.WAITING, TaskStatus.CALLING, TaskStatus.SUBMITTING])
async def test_pause_moves_a_running_task_to_suspended(
    tenant: Tenant, rt: Runtime, status: TaskStatus
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    env = await tenant.client.pause_group_calls([task_id, task_id])
    assert env.raw == {"code": "0", "msg": "success", "data": None}
    assert (await task_row(rt, task_id)).status == TaskStatus.SUSPENDED


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (TaskStatus.SUSPENDED, "suspended"),
        (TaskStatus.FINISHED, "finished"),
        (TaskStatus.CANCELED, "canceled"),
        (TaskStatus.SUBMIT_FAILED, "submit_failed"),
    ],
)
async def test_pause_of_a_task_in_another_state_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime, status: TaskStatus, name: str
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    env = await tenant.client.pause_group_calls([task_id])
    assert env.code == "-54" and name in env.reason


async def test_pause_is_all_or_nothing_minus_54(tenant: Tenant, rt: Runtime) -> None:
    waiting = await new_task(tenant, "waiting")
    done = await new_task(tenant, "done")
    await set_status(rt, done, TaskStatus.FINISHED)
    env = await tenant.client.pause_group_calls([waiting, done])
    assert env.code == "-54" and str(done) in env.reason
    assert (await task_row(rt, waiting)).status == TaskStatus.WAITING


async def test_pause_accepts_task_id_list_and_cancel_accepts_job_id_list(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    paused = await raw(
        http, tenant, clock, "POST", "/voice/group/call/provisional", {"taskIdList": [task_id]}
    )
    assert paused == {"code": "0", "msg": "success", "data": None}
    canceled = await raw(
        http, tenant, clock, "POST", "/voice/group/call/cancel", {"jobIdList": [task_id]}
    )
    assert canceled["code"] == "0"
    assert (await task_row(rt, task_id)).status == TaskStatus.CANCELED


@pytest.mark.parametrize("body", [{}, {"jobIdList": []}, {"jobIdList": ["x"]}, {"taskIdList": [0]}])
@pytest.mark.parametrize("path", ["provisional", "resume", "cancel"])
async def test_status_change_without_valid_ids_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str, body: dict[str, Any]
) -> None:
    got = await raw(http, tenant, clock, "POST", f"/voice/group/call/{path}", body)
    assert got["code"] == "-22", got


async def test_resume_of_a_task_that_is_not_paused_is_rejected_with_minus_54(
    tenant: Tenant,
) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.resume_group_calls([task_id])
    assert env.code == "-54" and "waiting" in env.reason


@pytest.mark.parametrize(
    "status",
    [TaskStatus.WAITING, TaskStatus.CALLING, TaskStatus.SUSPENDED, TaskStatus.SUBMITTING],
)
async def test_cancel_ends_a_task_that_has_not_ended(
    tenant: Tenant, rt: Runtime, clock: FixedClock, status: TaskStatus
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    env = await tenant.client.cancel_group_calls([task_id])
    assert env.raw == {"code": "0", "msg": "success", "data": None}
    task = await task_row(rt, task_id)
    assert task.status == TaskStatus.CANCELED and task.finished_at == clock.now()


@pytest.mark.parametrize("status", [TaskStatus.FINISHED, TaskStatus.CANCELED])
async def test_cancel_of_an_ended_task_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime, status: TaskStatus
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, status)
    assert (await tenant.client.cancel_group_calls([task_id])).code == "-54"


async def test_cancel_leaves_a_recall_flow_that_already_started(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id, flow_id, _ = await new_flow(tenant)
    await set_flow_status(rt, flow_id, 1)
    assert (await tenant.client.cancel_group_calls([task_id])).code == "0"
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert detail["status"] == 1 and [n["nodeStatus"] for n in detail["nodeList"]] == [0, 0]


async def test_unknown_id_in_any_status_change_is_rejected_with_minus_24(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    for call in (
        tenant.client.pause_group_calls,
        tenant.client.resume_group_calls,
        tenant.client.cancel_group_calls,
    ):
        env = await call([task_id, 123456])
        assert env.code == "-24" and "123456" in env.reason
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 0


async def test_ai_tasks_are_paused_resumed_and_cancelled_like_normal_ones(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_script(rt, tenant, 7)
    task_id = await new_ai_task(tenant)
    assert (await tenant.client.pause_group_calls([task_id])).code == "0"
    assert (await tenant.client.resume_group_calls([task_id])).code == "0"
    assert (await tenant.client.cancel_group_calls([task_id])).code == "0"
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 4
