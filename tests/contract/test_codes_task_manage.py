"""Managing group-call tasks and recall flows: update, resend, query, detail, pause, resume,
cancel and the recallFlow endpoints, with every code a request can trigger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import update

from tests.conftest import Tenant, add_script
from tests.contract.group_call_support import tts
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime
from voxcast.storage.models import Callee, Task

SAMPLES = Path(__file__).parent / "samples"


async def new_task(tenant: Tenant, name: str = "task", **extra: Any) -> int:
    env = await tenant.client.send_group_call(**tts(tenant, name, **extra))
    assert env.code == "0", env.reason
    return int(env.data)


async def set_status(rt: Runtime, task_id: int, status: int) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(update(Task).where(Task.id == task_id).values(status=status))


async def finish_with(rt: Runtime, task_id: int, answered: set[str]) -> None:
    """As if the dialer ran the task: every callee done, these numbers answered."""
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=TaskStatus.FINISHED)
        )
        rows = (
            await session.execute(Callee.__table__.select().where(Callee.task_id == task_id))
        ).all()
        for row in rows:
            await session.execute(
                update(Callee)
                .where(Callee.id == row.id)
                .values(state=CalleeState.DONE, success=row.callee in answered)
            )


# -- update ----------------------------------------------------------------------------------


async def test_update_of_a_waiting_task_changes_it_with_0(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.update_group_call(
        keyId=task_id,
        taskName="renamed",
        source=3,
        text="Changed",
        lan="DE",
        loopCount=2,
        maxCalls=30,
        numberList=["8613000000009"],
    )
    assert env.raw == {"status": "0", "reason": "success", "data": None}
    detail = (await tenant.client.group_call_detail(task_id)).data
    assert (detail["taskName"], detail["text"], detail["lan"], detail["loopCount"]) == (
        "renamed",
        "Changed",
        "DE",
        2,
    )
    assert detail["numCnt"] == 1


async def test_update_of_a_started_task_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, TaskStatus.CALLING)
    env = await tenant.client.update_group_call(
        keyId=task_id, taskName="x2", source=3, text="a", lan="EN", loopCount=1, maxCalls=9
    )
    assert env.code == "-54"


async def test_update_to_an_existing_name_is_rejected_with_minus_41(tenant: Tenant) -> None:
    await new_task(tenant, "first")
    second = await new_task(tenant, "second")
    env = await tenant.client.update_group_call(
        keyId=second, taskName="first", source=3, text="a", lan="EN", loopCount=1, maxCalls=9
    )
    assert env.code == "-41"


async def test_update_of_an_unknown_task_is_rejected_with_minus_24(tenant: Tenant) -> None:
    env = await tenant.client.update_group_call(
        keyId=999999, taskName="x2", source=3, text="a", lan="EN", loopCount=1, maxCalls=9
    )
    assert env.code == "-24"


async def test_update_ai_of_a_waiting_ai_task_with_0(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 3, 4)
    sent = await tenant.client.send_group_call_ai(
        appId=tenant.app_id,
        taskName="ai",
        scriptId=3,
        numberInfoList=[{"calleeNumber": "8613000000000"}],
    )
    env = await tenant.client.update_group_call_ai(
        keyId=sent.data, taskName="ai-2", scriptId=4, maxCalls=40
    )
    assert env.code == "0", env.reason
    assert (await tenant.client.group_call_detail(sent.data)).data["scriptId"] == 4


# -- resend ----------------------------------------------------------------------------------


async def test_resend_of_failed_numbers_creates_a_new_task(tenant: Tenant, rt: Runtime) -> None:
    task_id = await new_task(tenant, numbers=["8613000000000", "8613000000005", "8613000000007"])
    await finish_with(rt, task_id, answered={"8613000000000"})
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="again", resendType=1)
    assert env.raw["status"] == "0" and isinstance(env.data, int)
    detail = (await tenant.client.group_call_detail(env.data)).data
    assert detail["numCnt"] == 2 and detail["parentTaskId"] == task_id
    assert detail["text"] == "Hello"
    everyone = await tenant.client.resend_group_call(
        keyId=task_id, taskName="all again", resendType=0, maxCalls=20
    )
    detail = (await tenant.client.group_call_detail(everyone.data)).data
    assert detail["numCnt"] == 3 and detail["maxCalls"] == 20


async def test_resend_of_a_running_task_is_rejected_with_minus_42(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="again2", resendType=0)
    assert env.code == "-42"


async def test_resend_failed_when_all_answered_is_rejected_with_minus_34(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    await finish_with(rt, task_id, answered={"8613000000000", "8613000000005"})
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="again2", resendType=1)
    assert env.code == "-34"


async def test_resend_to_an_existing_name_is_rejected_with_minus_41(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant, "orig")
    await finish_with(rt, task_id, answered=set())
    env = await tenant.client.resend_group_call(keyId=task_id, taskName="orig", resendType=0)
    assert env.code == "-41"


async def test_resend_ai_page_003_sample_is_accepted_with_0(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 1)
    sent = await tenant.client.send_group_call_ai(
        appId=tenant.app_id,
        taskName="ai",
        scriptId=1,
        numberInfoList=[{"calleeNumber": "8613000000005"}],
    )
    await finish_with(rt, sent.data, answered=set())
    body = json.loads((SAMPLES / "callResendAI.json").read_text())
    body["keyId"] = sent.data
    env = await tenant.client.resend_group_call_ai(**body)
    assert env.raw["status"] == "0" and isinstance(env.data, int), env.reason


# -- query and detail ------------------------------------------------------------------------


async def test_query_pages_and_filters_tasks(tenant: Tenant, rt: Runtime) -> None:
    ids = [await new_task(tenant, f"campaign {i}") for i in range(3)]
    await set_status(rt, ids[0], TaskStatus.CANCELED)
    env = await tenant.client.query_group_calls(current=1, size=2)
    assert env.raw["code"] == "0"
    assert (env.data["total"], env.data["pages"], len(env.data["records"])) == (3, 2, 2)
    assert env.data["records"][0]["taskId"] == ids[2]  # newest first
    rec = env.data["records"][0]
    assert {
        "taskId",
        "jobId",
        "taskName",
        "status",
        "rate",
        "numCnt",
        "callNum",
        "success",
        "fail",
        "createdTime",
        "taskType",
    } <= set(rec)
    by_status = await tenant.client.query_group_calls(statusList=[4])
    assert [r["taskId"] for r in by_status.data["records"]] == [ids[0]]
    by_name = await tenant.client.query_group_calls(searchCondition="campaign 1")
    assert [r["taskId"] for r in by_name.data["records"]] == [ids[1]]


async def test_detail_counters_come_from_the_callees(tenant: Tenant, rt: Runtime) -> None:
    task_id = await new_task(tenant, numbers=["8613000000000", "8613000000005", "8613000000007"])
    async with rt.sessions.begin() as session:
        ids = (
            await session.scalars(
                Callee.__table__.select()
                .with_only_columns(Callee.__table__.c.id)
                .where(Callee.__table__.c.task_id == task_id)
                .order_by(Callee.__table__.c.seq)
            )
        ).all()
        await session.execute(
            update(Callee).where(Callee.id == ids[0]).values(state=CalleeState.DONE, success=True)
        )
        await session.execute(
            update(Callee).where(Callee.id == ids[1]).values(state=CalleeState.DONE, success=False)
        )
        await session.execute(
            update(Callee).where(Callee.id == ids[2]).values(state=CalleeState.DIALING)
        )
    d = (await tenant.client.group_call_detail(task_id)).data
    assert (d["called"], d["answered"], d["failed"], d["dialing"], d["pending"]) == (2, 1, 1, 1, 0)
    assert (d["success"], d["fail"], d["rate"], d["successRate"]) == (1, 1, "66.67%", "50.00%")


async def test_detail_of_a_non_numeric_id_is_rejected_with_minus_22(tenant: Tenant) -> None:
    env = await tenant.client._call("GET", "/v3/voice/group/call/detail/abc")
    assert env.code == "-22"


async def test_detail_of_an_unknown_task_is_rejected_with_minus_24(tenant: Tenant) -> None:
    assert (await tenant.client.group_call_detail(424242)).code == "-24"


# -- pause, resume, cancel -------------------------------------------------------------------


async def test_pause_resume_cancel_move_the_status(tenant: Tenant) -> None:
    task_id = await new_task(tenant)
    paused = await tenant.client.pause_group_calls([task_id])
    assert paused.raw == {"code": "0", "msg": "success", "data": None}
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 5
    assert (await tenant.client.resume_group_calls([task_id])).code == "0"
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 0
    assert (await tenant.client.cancel_group_calls([task_id])).code == "0"
    detail = (await tenant.client.group_call_detail(task_id)).data
    assert detail["status"] == 4 and detail["finishTime"] is not None


async def test_pause_of_a_finished_task_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id = await new_task(tenant)
    await set_status(rt, task_id, TaskStatus.FINISHED)
    assert (await tenant.client.pause_group_calls([task_id])).code == "-54"
    assert (await tenant.client.cancel_group_calls([task_id])).code == "-54"
    assert (await tenant.client.resume_group_calls([task_id])).code == "-54"


async def test_pause_with_an_unknown_id_changes_nothing_and_answers_minus_24(
    tenant: Tenant,
) -> None:
    task_id = await new_task(tenant)
    assert (await tenant.client.pause_group_calls([task_id, 987654])).code == "-24"
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 0


async def test_pause_without_ids_is_rejected_with_minus_22(tenant: Tenant) -> None:
    assert (await tenant.client.pause_group_calls([])).code == "-22"


# -- recall flows ----------------------------------------------------------------------------

FLOW = {
    "recallType": 1,
    "recallInterval": 30,
    "recallNum": 2,
    "nodeList": [{"source": 3, "text": "Second try", "lan": "EN", "hangUpSms": 0, "toSeat": 0}],
}


async def flow_of(tenant: Tenant) -> tuple[int, int]:
    task_id = await new_task(tenant, "with recall", recallFlow=FLOW)
    page = await tenant.client.query_recall_flows()
    (record,) = page.data["records"]
    return task_id, int(record["keyId"])


async def test_send_with_recall_flow_creates_a_pending_flow_with_its_nodes(
    tenant: Tenant,
) -> None:
    task_id, flow_id = await flow_of(tenant)
    page = await tenant.client.query_recall_flows(taskName="with recall")
    assert page.raw["status"] == "0"
    rec = page.data["records"][0]
    assert (
        rec["taskId"],
        rec["recallType"],
        rec["recallInterval"],
        rec["recallNum"],
        rec["finishNum"],
        rec["status"],
    ) == (task_id, 1, 30, 2, 0, 0)
    detail = await tenant.client.recall_flow_detail(flow_id)
    assert detail.raw["code"] == "0"
    nodes = detail.data["nodeList"]
    assert [n["nodeStatus"] for n in nodes] == [0, 0]
    assert nodes[0]["text"] == "Second try" and nodes[1]["text"] is None
    by_id = await tenant.client.query_recall_flows(taskName=str(task_id))
    assert by_id.data["total"] == 1


async def test_recall_update_page_000_sample_replaces_the_nodes(tenant: Tenant) -> None:
    upload = await tenant.client.upload_file("again.wav", _wav())
    _, flow_id = await flow_of(tenant)
    body = json.loads((SAMPLES / "recallFlowUpdate.json").read_text())
    body["keyId"] = flow_id
    body["nodeList"][0]["voiceFileId"] = upload.data
    env = await tenant.client.update_recall_flow(**body)
    assert env.raw == {"code": "0", "msg": "success", "data": None}, env.reason
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert (detail["recallNum"], detail["recallType"], len(detail["nodeList"])) == (1, 0, 1)
    assert detail["nodeList"][0]["voiceFileId"] == upload.data


def _wav() -> str:
    from tests.unit.audio.audiofiles import audio_b64

    return audio_b64("wav", 0.5)


async def test_recall_update_of_a_started_flow_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime
) -> None:
    _, flow_id = await flow_of(tenant)
    from voxcast.storage.models import RecallFlow

    async with rt.sessions.begin() as session:
        await session.execute(update(RecallFlow).where(RecallFlow.id == flow_id).values(status=1))
    env = await tenant.client.update_recall_flow(
        keyId=flow_id, recallInterval=5, recallNum=1, recallType=0
    )
    assert env.code == "-54"


async def test_recall_update_with_bad_ranges_is_rejected_with_minus_22(tenant: Tenant) -> None:
    _, flow_id = await flow_of(tenant)
    for bad in (
        {"recallInterval": 0},
        {"recallInterval": 1441},
        {"recallNum": 11},
        {"recallType": 2},
    ):
        body = {"keyId": flow_id, "recallInterval": 5, "recallNum": 1, "recallType": 0, **bad}
        env = await tenant.client.update_recall_flow(**body)
        assert env.code == "-22" and next(iter(bad)) in env.reason


async def test_recall_node_sms_without_trigger_is_rejected_with_minus_53(tenant: Tenant) -> None:
    _, flow_id = await flow_of(tenant)
    env = await tenant.client.update_recall_flow(
        keyId=flow_id,
        recallInterval=5,
        recallNum=1,
        recallType=0,
        nodeList=[
            {"source": 3, "text": "x", "lan": "EN", "hangUpSms": 1, "smsContent": "y", "toSeat": 0}
        ],
    )
    assert env.code == "-53" and "nodeList[0]" in env.reason


async def test_recall_cancel_by_flow_task_and_node(tenant: Tenant) -> None:
    _, flow_id = await flow_of(tenant)
    node_ids = [
        n["keyId"] for n in (await tenant.client.recall_flow_detail(flow_id)).data["nodeList"]
    ]
    env = await tenant.client.cancel_recall_flow(3, node_ids[1])
    assert env.raw == {"status": "0", "reason": "success", "data": None}
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert [n["nodeStatus"] for n in detail["nodeList"]] == [0, 3] and detail["status"] == 0
    assert (await tenant.client.cancel_recall_flow(1, flow_id)).code == "0"
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 3
    assert (await tenant.client.cancel_recall_flow(1, flow_id)).code == "-54"
    task2 = await new_task(tenant, "second", recallFlow=FLOW)
    assert (await tenant.client.cancel_recall_flow(2, task2)).code == "0"


async def test_recall_cancel_with_bad_type_or_unknown_id(tenant: Tenant) -> None:
    assert (await tenant.client.cancel_recall_flow(4, 1)).code == "-22"
    assert (await tenant.client.cancel_recall_flow(1, 777777)).code == "-24"
    assert (await tenant.client.cancel_recall_flow(2, 777777)).code == "-24"
    assert (await tenant.client.cancel_recall_flow(3, 777777)).code == "-24"


async def test_cancelling_a_task_cancels_its_pending_recall_flow(tenant: Tenant) -> None:
    task_id, flow_id = await flow_of(tenant)
    await tenant.client.cancel_group_calls([task_id])
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert detail["status"] == 3 and {n["nodeStatus"] for n in detail["nodeList"]} == {3}
