"""Recall flows (page 000 and catalog §2.9): queryPage, queryDetail, update while pending and
cancel by flow, task or node, with every code a request can trigger, each test named after it.
(More cases are in test_codes_task_manage.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, add_script
from tests.contract.group_call_support import (
    NODE,
    audio,
    new_ai_task,
    new_flow,
    new_task,
    node_rows,
    raw,
    sample,
    set_flow_status,
    upload,
)
from voxcast.clock import FixedClock
from voxcast.domain.enums import RecallStatus
from voxcast.runtime import Runtime


def flow_update(flow_id: int, *nodes: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "keyId": flow_id,
        "recallType": 0,
        "recallInterval": 10,
        "recallNum": max(1, len(nodes)),
    }
    if nodes:
        body["nodeList"] = list(nodes)
    body.update(changes)
    return body


# -- queryPage ------------


async def test_query_page_lists_flows_newest_first_with_the_vendor_fields(
    tenant: Tenant, clock: FixedClock
) -> None:
    first, first_flow, _ = await new_flow(tenant, "Loan Reminder")
    clock.advance(timedelta(hours=1).total_seconds())
    second, second_flow, _ = await new_flow(tenant, "parcel", recallType=0, recallNum=3)
    await new_task(tenant, "no recall")
    env = await tenant.client.query_recall_flows()
    assert env.raw["status"] == "0" and env.raw["reason"] == "success"
    assert (env.data["total"], env.data["pages"], env.data["searchCount"]) == (2, 1, True)
    assert env.data["records"] == [
        {
            "keyId": second_flow,
            "taskId": second,
            "taskName": "parcel",
            "createTime": "2026-03-02 10:00:00",
            "recallType": 0,
            "recallInterval": 30,
            "recallNum": 3,
            "finishNum": 0,
            "status": 0,
        },
        {
            "keyId": first_flow,
            "taskId": first,
            "taskName": "Loan Reminder",
            "createTime": "2026-03-02 09:00:00",
            "recallType": 1,
            "recallInterval": 30,
            "recallNum": 2,
            "finishNum": 0,
            "status": 0,
        },
    ]


async def test_query_page_filters_by_time_and_task_name_or_id(
    tenant: Tenant, clock: FixedClock
) -> None:
    first, first_flow, _ = await new_flow(tenant, "Loan Reminder")
    clock.advance(timedelta(hours=1).total_seconds())
    _, second_flow, _ = await new_flow(tenant, "parcel_100%")

    async def keys(**params: Any) -> list[int]:
        env = await tenant.client.query_recall_flows(**params)
        assert env.code == "0", env.reason
        return [r["keyId"] for r in env.data["records"]]

    assert await keys(strTime="2026-03-02 09:30:00") == [second_flow]
    assert await keys(endTime="2026-03-02 09:30:00") == [first_flow]
    assert await keys(taskName="loan") == [first_flow]  # fuzzy, any case
    assert await keys(taskName="_100%") == [second_flow]  # taken literally
    assert await keys(taskName="l_an") == []
    # a number matches the parent task id exactly (and, as text, names containing it)
    assert first_flow in await keys(taskName=str(first))


async def test_query_page_pages(tenant: Tenant) -> None:
    for i in range(3):
        await new_flow(tenant, f"flow {i}")
    env = await tenant.client.query_recall_flows(current=2, size=2)
    assert (env.data["total"], env.data["pages"], env.data["current"], env.data["size"]) == (
        3,
        2,
        2,
        2,
    )
    assert [r["taskName"] for r in env.data["records"]] == ["flow 0"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"current": 1, "size": 101}, "-22", "size"),
        ({"params": {"strTime": "2026-03-02 9:00"}}, "-11", "params.strTime"),
        ({"params": {"taskName": "x" * 65}}, "-22", "taskName"),
    ],
)
async def test_bad_query_page_is_rejected_naming_the_field(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    got = await raw(http, tenant, clock, "POST", "/v3/voice/recallFlow/queryPage", body)
    assert got["status"] == code and field in got["reason"], got


# -- queryDetail ------------


async def test_query_detail_shows_the_flow_its_nodes_and_paging(tenant: Tenant) -> None:
    task_id, flow_id, node_ids = await new_flow(tenant, recallNum=3)
    env = await tenant.client.recall_flow_detail(flow_id)
    assert env.raw["code"] == "0" and env.raw["msg"] == "success"
    d = env.data
    assert (d["keyId"], d["recallInterval"], d["recallNum"], d["recallType"], d["status"]) == (
        flow_id,
        30,
        3,
        1,
        0,
    )
    assert (d["total"], d["size"], d["current"], d["pages"], d["searchCount"]) == (3, 3, 1, 1, True)
    assert [n["keyId"] for n in d["nodeList"]] == node_ids
    assert [(n["taskId"], n["nodeStatus"]) for n in d["nodeList"]] == [(None, 0)] * 3
    first, second = d["nodeList"][0], d["nodeList"][1]
    assert (first["source"], first["text"], first["lan"], first["toSeat"]) == (
        3,
        "Second try",
        "EN",
        0,
    )
    assert second["source"] is None and second["text"] is None  # repeats the task as it was
    assert task_id == d["taskId"]


@pytest.mark.parametrize("body", [{}, {"keyId": 0}, {"keyId": "abc"}])
async def test_query_detail_without_a_valid_key_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, body: dict[str, Any]
) -> None:
    got = await raw(http, tenant, clock, "POST", "/v3/voice/recallFlow/queryDetail", body)
    assert got["code"] == "-22" and "keyId" in got["msg"]


async def test_query_detail_of_an_unknown_flow_is_rejected_with_minus_24(tenant: Tenant) -> None:
    env = await tenant.client.recall_flow_detail(31337)
    assert env.raw == {"code": "-24", "msg": env.reason, "data": None}
    assert "31337" in env.reason


# -- update ------------


async def test_page_000_sample_with_a_fresh_upload_is_accepted_with_0(
    tenant: Tenant, rt: Runtime
) -> None:
    _, flow_id, _ = await new_flow(tenant)
    body = sample("recallFlowUpdate.json")
    body["keyId"] = flow_id
    body["nodeList"][0]["voiceFileId"] = await upload(tenant, "again.wav")
    env = await tenant.client.update_recall_flow(**body)
    assert env.raw == {"code": "0", "msg": "success", "data": None}, env.reason
    (node,) = await node_rows(rt, flow_id)
    assert node.params["toSeat"] == 1 and node.params["sipGroupId"] == 1000038
    assert node.params["voiceFileId"] == body["nodeList"][0]["voiceFileId"]


async def test_update_replaces_the_nodes_with_recall_num_new_ones(
    tenant: Tenant, rt: Runtime
) -> None:
    _, flow_id, old_ids = await new_flow(tenant)
    env = await tenant.client.update_recall_flow(
        **flow_update(flow_id, {**NODE, "text": "Third try"}, recallNum=4, recallInterval=1440)
    )
    assert env.code == "0", env.reason
    nodes = await node_rows(rt, flow_id)
    assert [n.seq for n in nodes] == [1, 2, 3, 4]
    # the old nodes are gone (SQLite may hand their ids to the new rows, so compare contents)
    assert len(await node_rows(rt, flow_id)) == 4 and old_ids
    assert nodes[0].params["text"] == "Third try" and nodes[3].params == {}
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert (detail["recallNum"], detail["recallInterval"], detail["recallType"]) == (4, 1440, 0)


async def test_update_ignores_nodes_beyond_recall_num(tenant: Tenant, rt: Runtime) -> None:
    _, flow_id, _ = await new_flow(tenant)
    body = flow_update(flow_id, NODE, {**NODE, "text": "unused"}, recallNum=1)
    assert (await tenant.client.update_recall_flow(**body)).code == "0"
    assert len(await node_rows(rt, flow_id)) == 1


async def test_update_node_with_source_2_stores_the_upload(tenant: Tenant, rt: Runtime) -> None:
    _, flow_id, _ = await new_flow(tenant)
    node = {**NODE, "source": 2, "uploadName": "round2.wav", "baseFile": audio(), "text": None}
    env = await tenant.client.update_recall_flow(**flow_update(flow_id, node))
    assert env.code == "0", env.reason
    (stored,) = await node_rows(rt, flow_id)
    assert "baseFile" not in stored.params and str(stored.params["voiceFileId"]).endswith(".wav")


async def test_update_of_an_ai_flow_takes_script_nodes(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 7)
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1}
    task_id = await new_ai_task(tenant, recallFlow=flow)
    flow_id = (await tenant.client.query_recall_flows(taskName=str(task_id))).data["records"][0][
        "keyId"
    ]
    env = await tenant.client.update_recall_flow(**flow_update(flow_id, {"scriptId": 12}))
    assert env.code == "0", env.reason
    assert [n.params for n in await node_rows(rt, flow_id)] == [{"scriptId": 12}]
    bad = await tenant.client.update_recall_flow(**flow_update(flow_id, {"scriptId": 0}))
    assert bad.code == "-60" and "nodeList[0].scriptId" in bad.reason


async def test_an_ai_flows_recall_intent_is_kept_and_shown(tenant: Tenant, rt: Runtime) -> None:
    await add_script(rt, tenant, 7)
    flow = {"recallType": 0, "recallInterval": 5, "recallNum": 1, "recallIntent": ["D", "E"]}
    task_id = await new_ai_task(tenant, recallFlow=flow)
    [listed] = (await tenant.client.query_recall_flows(taskName=str(task_id))).data["records"]
    detail = (await tenant.client.recall_flow_detail(listed["keyId"])).data
    assert detail["recallIntent"] == ["D", "E"]
    changed = {**flow_update(listed["keyId"], {"scriptId": 7}), "recallIntent": ["A"]}
    assert (await tenant.client.update_recall_flow(**changed)).code == "0"
    assert (await tenant.client.recall_flow_detail(listed["keyId"])).data["recallIntent"] == ["A"]


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (RecallStatus.IN_PROGRESS, "in_progress"),
        (RecallStatus.COMPLETED, "completed"),
        (RecallStatus.CANCELLED, "cancelled"),
        (RecallStatus.EXCEPTION, "exception"),
    ],
)
async def test_update_of_a_flow_that_is_not_pending_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime, status: RecallStatus, name: str
) -> None:
    _, flow_id, _ = await new_flow(tenant)
    await set_flow_status(rt, flow_id, status)
    env = await tenant.client.update_recall_flow(**flow_update(flow_id))
    assert env.raw["code"] == "-54" and name in env.reason


UPDATE_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    ("recallInterval 0", {"recallInterval": 0}, "-22", "recallInterval"),
    ("recallNum 0", {"recallNum": 0}, "-22", "recallNum"),
    ("recallType missing", {"recallType": None}, "-22", "recallType"),
    ("keyId missing", {"keyId": None}, "-22", "keyId"),
    (
        "node without source",
        {"nodeList": [{"hangUpSms": 0, "toSeat": 0}]},
        "-22",
        "nodeList[0].source",
    ),
    (
        "node without hangUpSms",
        {"nodeList": [{"source": 1, "voiceFileId": "f.wav", "toSeat": 0}]},
        "-22",
        "nodeList[0].hangUpSms",
    ),
    ("node without toSeat", {"nodeList": [{**NODE, "toSeat": None}]}, "-22", "nodeList[0].toSeat"),
    (
        "node transfer without its group",
        {
            "nodeList": [
                {**NODE, "toSeat": 1, "outboundControl": 1, "calloutRate": 1, "toSeatType": 1}
            ]
        },
        "-22",
        "nodeList[0].sipGroupId",
    ),
    (
        "node transfer by key without delayTransfer",
        {
            "nodeList": [
                {
                    **NODE,
                    "toSeat": 1,
                    "sipGroupId": 9,
                    "outboundControl": 1,
                    "calloutRate": 1,
                    "toSeatType": 2,
                    "toSeatKey": "1",
                }
            ]
        },
        "-22",
        "nodeList[0].delayTransfer",
    ),
    (
        "node source 1 without file",
        {"nodeList": [{**NODE, "source": 1}]},
        "-22",
        "nodeList[0].voiceFileId",
    ),
    (
        "node text over 1000",
        {"nodeList": [{**NODE, "text": "x" * 1001}]},
        "-22",
        "nodeList[0].text",
    ),
    ("eleven nodes", {"nodeList": [NODE] * 11}, "-22", "nodeList"),
    ("node text missing", {"nodeList": [{**NODE, "text": None}]}, "-38", "nodeList[0].text"),
    (
        "node language unknown",
        {"nodeList": [{**NODE, "lan": "KLINGONESE"}]},
        "-22",
        "nodeList[0].lan",
    ),
    ("node language not listed", {"nodeList": [{**NODE, "lan": "FR"}]}, "-39", "nodeList[0].lan"),
    (
        "node sms without trigger",
        {"nodeList": [{**NODE, "hangUpSms": 1, "smsContent": "hi"}]},
        "-53",
        "nodeList[0].",
    ),
    (
        "node sms variable not given",
        {"nodeList": [{**NODE, "hangUpSms": 1, "smsContent": "hi ${text4}", "ringPush": 1}]},
        "-22",
        "text4",
    ),
    (
        "node file unknown",
        {"nodeList": [{**NODE, "source": 1, "voiceFileId": "no.wav"}]},
        "-24",
        "nodeList[0].voiceFileId",
    ),
    ("unknown flow", {"keyId": 999_999}, "-24", "999999"),
]


@pytest.mark.parametrize(
    ("case", "changes", "code", "field"), UPDATE_ERRORS, ids=[c[0] for c in UPDATE_ERRORS]
)
async def test_bad_update_is_rejected_with_its_code_naming_the_field(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    case: str,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    _, flow_id, _ = await new_flow(tenant)
    body = flow_update(flow_id, NODE)
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    for node in body.get("nodeList") or []:
        for key in [k for k, v in node.items() if v is None]:
            del node[key]
    got = await raw(http, tenant, clock, "POST", "/v3/voice/recallFlow/update", body)
    assert got["code"] == code and field in got["msg"], got
    detail = (await tenant.client.recall_flow_detail(flow_id)).data
    assert detail["recallInterval"] == 30  # nothing changed


async def test_node_upload_name_already_used_is_rejected_with_minus_20(tenant: Tenant) -> None:
    await upload(tenant, "taken.wav")
    _, flow_id, _ = await new_flow(tenant)
    node = {**NODE, "source": 2, "uploadName": "taken.wav", "baseFile": audio()}
    env = await tenant.client.update_recall_flow(**flow_update(flow_id, node))
    assert env.code == "-20" and "nodeList[0].uploadName" in env.reason


async def test_node_base_file_that_is_not_audio_is_rejected_with_minus_21(tenant: Tenant) -> None:
    _, flow_id, _ = await new_flow(tenant)
    node = {**NODE, "source": 2, "uploadName": "junk.wav", "baseFile": "####"}
    env = await tenant.client.update_recall_flow(**flow_update(flow_id, node))
    assert env.code == "-21" and "nodeList[0].baseFile" in env.reason


# -- cancel ------------


async def test_cancel_by_flow_cancels_the_flow_and_its_pending_nodes(
    tenant: Tenant, rt: Runtime
) -> None:
    _, flow_id, _ = await new_flow(tenant)
    env = await tenant.client.cancel_recall_flow(1, flow_id)
    assert env.raw == {"status": "0", "reason": "success", "data": None}
    assert [n.status for n in await node_rows(rt, flow_id)] == [3, 3]
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 3


async def test_cancel_by_task_cancels_its_flow(tenant: Tenant, rt: Runtime) -> None:
    task_id, flow_id, _ = await new_flow(tenant)
    assert (await tenant.client.cancel_recall_flow(2, task_id)).code == "0"
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 3
    assert (await tenant.client.cancel_recall_flow(2, task_id)).code == "-54"


async def test_cancel_by_node_cancels_it_and_every_later_node(tenant: Tenant, rt: Runtime) -> None:
    _, flow_id, node_ids = await new_flow(tenant, recallNum=3)
    assert (await tenant.client.cancel_recall_flow(3, node_ids[1])).code == "0"
    assert [n.status for n in await node_rows(rt, flow_id)] == [0, 3, 3]
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 0
    assert (await tenant.client.cancel_recall_flow(3, node_ids[2])).code == "-54"
    # cancelling from the first node leaves nothing to run: the flow is cancelled too
    assert (await tenant.client.cancel_recall_flow(3, node_ids[0])).code == "0"
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 3


async def test_cancel_of_a_flow_that_started_is_rejected_with_minus_54(
    tenant: Tenant, rt: Runtime
) -> None:
    task_id, flow_id, _ = await new_flow(tenant)
    await set_flow_status(rt, flow_id, RecallStatus.IN_PROGRESS)
    for kind, object_id in ((1, flow_id), (2, task_id)):
        env = await tenant.client.cancel_recall_flow(kind, object_id)
        assert env.raw["status"] == "-54" and "in_progress" in env.reason


async def test_cancel_of_unknown_objects_is_rejected_with_minus_24(tenant: Tenant) -> None:
    task_id = await new_task(tenant, "no recall")
    for kind, object_id in ((1, 4242), (2, task_id), (2, 4242), (3, 4242)):
        env = await tenant.client.cancel_recall_flow(kind, object_id)
        assert env.code == "-24", (kind, object_id, env.reason)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": 4, "id": 1}, "type"),
        ({"type": 0, "id": 1}, "type"),
        ({"id": 1}, "type"),
        ({"type": 1}, "id"),
        ({"type": 1, "id": -5}, "id"),
    ],
)
async def test_bad_cancel_is_rejected_with_minus_22(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, body: dict[str, Any], field: str
) -> None:
    got = await raw(http, tenant, clock, "POST", "/voice/recallFlow/cancel", body)
    assert got["status"] == "-22" and field in got["reason"], got
