"""Tenants are isolated: no account can read, change, pause, resume, cancel or resend another
account's tasks, nor see or touch its recall flows, files and records; the answer is always -24,
exactly as if the object did not exist. Another account's appId is -32 (the key has no permission
for that app), the same answer as an unknown appId. On SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.unit.audio.audiofiles import audio_b64


async def alices_task(alice: Tenant) -> int:
    env = await alice.client.send_group_call(
        appId=alice.app_id,
        taskName="alice only",
        source=3,
        text="Hi",
        lan="EN",
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": "8613000000000"}],
        recallFlow={"recallType": 0, "recallInterval": 5, "recallNum": 1},
    )
    assert env.code == "0"
    return int(env.data)


async def test_another_account_cannot_see_or_touch_a_task(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    task_id = await alices_task(tenant)
    mallory = other_tenant.client
    assert (await mallory.group_call_detail(task_id)).code == "-24"
    assert (
        await mallory.update_group_call(
            keyId=task_id,
            taskName="mine now",
            source=3,
            text="x",
            lan="EN",
            loopCount=1,
            maxCalls=9,
        )
    ).code == "-24"
    assert (await mallory.pause_group_calls([task_id])).code == "-24"
    assert (await mallory.resume_group_calls([task_id])).code == "-24"
    assert (await mallory.cancel_group_calls([task_id])).code == "-24"
    assert (
        await mallory.resend_group_call(keyId=task_id, taskName="stolen", resendType=0)
    ).code == "-24"
    assert (await mallory.query_group_calls()).data["total"] == 0
    assert (await mallory.query_group_calls(searchCondition="alice")).data["records"] == []
    # and alice's task is untouched
    assert (await tenant.client.group_call_detail(task_id)).data["status"] == 0


async def test_another_account_cannot_see_or_touch_a_recall_flow(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    task_id = await alices_task(tenant)
    flow_id = (await tenant.client.query_recall_flows()).data["records"][0]["keyId"]
    node_id = (await tenant.client.recall_flow_detail(flow_id)).data["nodeList"][0]["keyId"]
    mallory = other_tenant.client
    assert (await mallory.query_recall_flows()).data["total"] == 0
    assert (await mallory.query_recall_flows(taskName=str(task_id))).data["total"] == 0
    assert (await mallory.recall_flow_detail(flow_id)).code == "-24"
    assert (
        await mallory.update_recall_flow(keyId=flow_id, recallInterval=1, recallNum=1, recallType=0)
    ).code == "-24"
    assert (await mallory.cancel_recall_flow(1, flow_id)).code == "-24"
    assert (await mallory.cancel_recall_flow(2, task_id)).code == "-24"
    assert (await mallory.cancel_recall_flow(3, node_id)).code == "-24"
    assert (await tenant.client.recall_flow_detail(flow_id)).data["status"] == 0


async def test_another_account_cannot_use_a_file_or_read_a_voice_id(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    file_id = (await tenant.client.upload_file("private.mp3", audio_b64("mp3", 0.5))).data
    mallory = other_tenant.client
    stolen = await mallory.send_group_call(
        appId=other_tenant.app_id,
        taskName="reuse",
        source=1,
        voiceFileId=file_id,
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": "8613000000000"}],
    )
    assert stolen.code == "-24"
    group = await mallory.send_group(
        callee="8613000000000", fileId=file_id, appId=other_tenant.app_id
    )
    assert group.code == "-24"
    # the same file name is free for another account
    assert (await mallory.upload_file("private.mp3", audio_b64("mp3", 0.5))).code == "0"
    voice_id = (
        await tenant.client.send_code(
            callee="8613000000000", language="EN", text="code 1234", appId=tenant.app_id
        )
    ).data
    assert (await mallory.record(voice_id)).code == "-24"
    assert (
        await mallory.send_code(
            callee="8613000000000", language="EN", text="x", appId=tenant.app_id
        )
    ).code == "-32"
