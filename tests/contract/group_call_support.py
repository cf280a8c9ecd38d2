"""Helpers of the group-call and recall-flow contract tests: the vendor's sample bodies, a small
valid task, signed raw requests, and row changes standing in for the dialer."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime
from voxcast.storage.models import Callee, RecallFlow, RecallNode, Task

SAMPLES = Path(__file__).parent / "samples"

#: a recall node with only what page 000 requires, plus a TTS prompt
NODE: dict[str, Any] = {"source": 3, "text": "Second try", "lan": "EN", "hangUpSms": 0, "toSeat": 0}


def sample(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return body


def tts(
    tenant: Tenant, name: str = "task", numbers: list[str] | None = None, **changes: Any
) -> dict[str, Any]:
    """The smallest valid send: a TTS prompt and two numbers. A change of None drops a field."""
    body: dict[str, Any] = {
        "appId": tenant.app_id,
        "taskName": name,
        "source": 3,
        "text": "Hello",
        "lan": "EN",
        "loopCount": 1,
        "maxCalls": 60,
        "numberInfoList": [
            {"calleeNumber": n} for n in (numbers or ["8613000000000", "8613000000005"])
        ],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def ai(tenant: Tenant, name: str = "ai task", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appId": tenant.app_id,
        "taskName": name,
        "scriptId": 7,
        "numberInfoList": [{"calleeNumber": "8613000000000"}],
    }
    body.update(changes)
    return body


async def new_task(tenant: Tenant, name: str = "task", **changes: Any) -> int:
    env = await tenant.client.send_group_call(**tts(tenant, name, **changes))
    assert env.code == "0", env.reason
    return int(env.data)


async def new_ai_task(tenant: Tenant, name: str = "ai task", **changes: Any) -> int:
    env = await tenant.client.send_group_call_ai(**ai(tenant, name, **changes))
    assert env.code == "0", env.reason
    return int(env.data)


async def new_flow(
    tenant: Tenant, name: str = "with recall", task: dict[str, Any] | None = None, **flow: Any
) -> tuple[int, int, list[int]]:
    """A task (with `task`'s changes) and its pending recall flow (`flow` changes the default
    two rounds): (task id, flow keyId, node keyIds)."""
    spec = {"recallType": 1, "recallInterval": 30, "recallNum": 2, "nodeList": [NODE]}
    spec.update(flow)
    task_id = await new_task(tenant, name, recallFlow=spec, **(task or {}))
    page = await tenant.client.query_recall_flows(taskName=str(task_id))
    flow_id = int(page.data["records"][0]["keyId"])
    detail = await tenant.client.recall_flow_detail(flow_id)
    return task_id, flow_id, [int(n["keyId"]) for n in detail.data["nodeList"]]


@cache
def audio(ext: str = "wav") -> str:
    """A short real audio file, base64 (made once per run)."""
    return audio_b64(ext, 0.5)


async def upload(tenant: Tenant, name: str = "prompt.wav") -> str:
    env = await tenant.client.upload_file(name, audio(name.rsplit(".", 1)[1]))
    assert env.code == "0", env.reason
    return str(env.data)


async def raw(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    method: str,
    path: str,
    body: Any = None,
    **headers: str,
) -> dict[str, Any]:
    """A signed request the SDK would never send (a raw string body is sent as is)."""
    ts = int(clock.now().timestamp())
    sent = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    sent.update(headers)
    content = body if isinstance(body, str) else (None if body is None else json.dumps(body))
    resp = await http.request(method, path, content=content, headers=sent)
    assert resp.status_code == 200
    out: dict[str, Any] = resp.json()
    return out


async def set_status(rt: Runtime, task_id: int, status: int) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(update(Task).where(Task.id == task_id).values(status=status))


async def set_flow_status(rt: Runtime, flow_id: int, status: int) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(
            update(RecallFlow).where(RecallFlow.id == flow_id).values(status=status)
        )


async def finish(rt: Runtime, task_id: int, answered: set[str]) -> None:
    """As if the dialer ran the task: every callee done, these numbers answered."""
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=TaskStatus.FINISHED)
        )
        rows = (
            await session.execute(select(Callee.id, Callee.callee).where(Callee.task_id == task_id))
        ).all()
        for callee_id, number in rows:
            await session.execute(
                update(Callee)
                .where(Callee.id == callee_id)
                .values(state=CalleeState.DONE, success=number in answered)
            )


async def task_row(rt: Runtime, task_id: int) -> Task:
    async with rt.sessions() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        return task


async def callee_rows(rt: Runtime, task_id: int) -> list[tuple[int, str, Any]]:
    async with rt.sessions() as session:
        rows = await session.execute(
            select(Callee.seq, Callee.callee, Callee.info)
            .where(Callee.task_id == task_id)
            .order_by(Callee.seq)
        )
        return [(seq, callee, info) for seq, callee, info in rows]


async def node_rows(rt: Runtime, flow_id: int) -> list[RecallNode]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(RecallNode).where(RecallNode.flow_id == flow_id).order_by(RecallNode.seq)
        )
        return list(rows.all())
