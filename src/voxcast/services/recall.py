"""Recall (automatic redial) flows of a task: created with the task, listed, shown, changed
while pending, and cancelled by flow, by parent task, or from a node on. The rounds themselves
run in the dialer (voxcast.dialer.scheduler)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.config import Settings
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import RecallStatus, TaskKind
from voxcast.domain.schedule import SEND_TIME_FORMAT, zone
from voxcast.services import files, task_rules
from voxcast.services.listing import created_between, matching
from voxcast.storage.models import Account, Callee, RecallFlow, RecallNode, Task

NODE_KEYS = (
    "source",
    "voiceFileId",
    "uploadName",
    "text",
    "lan",
    "speakingRate",
    "ssmlGender",
    "accent",
    "hangUpSms",
    "smsAppId",
    "smsContent",
    "senderId",
    "feedbackPush",
    "feedbackValue",
    "successPush",
    "successPushTime",
    "failedPush",
    "ringPush",
    "toSeat",
    "sipGroupId",
    "outboundControl",
    "calloutRate",
    "toSeatType",
    "toSeatKey",
    "delayTransfer",
    "scriptId",
)


def check_node(node: Mapping[str, Any], prefix: str, kind: TaskKind) -> None:
    """A node overrides the prompt, SMS and transfer of a normal task (the task's rules apply,
    page 000's required fields first), or the speech template of an AI task."""
    if kind == TaskKind.AI:
        script = node.get("scriptId")
        if script is not None and int(script) <= 0:
            raise ApiError(Code.SCRIPT_NOT_FOUND, f"{prefix}scriptId: {script} does not exist")
        return
    task_rules.check_node(node, prefix)


def node_templates(nodes: Iterable[Mapping[str, Any]]) -> list[str | None]:
    """The SMS and TTS texts of the nodes (their ${textN} must be given for every callee)."""
    out: list[str | None] = []
    for node in nodes:
        out.append(node.get("smsContent"))
        if node.get("source") == 3:
            out.append(node.get("text"))
    return out


async def prepare_nodes(
    session: AsyncSession,
    account_id: int,
    nodes: Sequence[Mapping[str, Any]],
    prefix: str,
    now: datetime,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Each node's prompt file: source 1 must be the account's own file (-24); source 2 is
    stored now and the node keeps the new voiceFileId (never the base64 itself)."""
    out = []
    for i, given in enumerate(nodes):
        node = dict(given)
        if node.get("source") == 1:
            field = f"{prefix}[{i}].voiceFileId"
            await files.require_file(session, account_id, str(node["voiceFileId"]), field)
        elif node.get("source") == 2:
            node["voiceFileId"] = await files.store_upload(
                session,
                account_id=account_id,
                file_name=str(node["uploadName"]),
                content_b64=str(node["baseFile"]),
                now=now,
                max_bytes=settings.max_upload_bytes,
                name_field=f"{prefix}[{i}].uploadName",
                file_field=f"{prefix}[{i}].baseFile",
            )
        node.pop("baseFile", None)
        out.append(node)
    return out


def _node_params(node: Mapping[str, Any] | None) -> dict[str, Any]:
    node = node or {}
    return {k: node[k] for k in NODE_KEYS if node.get(k) is not None}


def _nodes(flow_id: int, spec: Mapping[str, Any]) -> list[RecallNode]:
    """`recallNum` pending nodes; node i takes nodeList[i-1]'s overrides (nodes beyond the
    list take none and repeat the task as it was; list entries beyond recallNum are unused)."""
    given = spec.get("nodeList") or []
    return [
        RecallNode(
            flow_id=flow_id,
            seq=seq,
            status=RecallStatus.PENDING,
            params=_node_params(given[seq - 1] if seq - 1 < len(given) else None),
        )
        for seq in range(1, int(spec["recallNum"]) + 1)
    ]


def _intents(spec: Mapping[str, Any]) -> list[str] | None:
    given = spec.get("recallIntent")
    return [str(i) for i in given] if given else None


async def create_flow(
    session: AsyncSession, account_id: int, task_id: int, spec: Mapping[str, Any], now: datetime
) -> int:
    """A pending flow with `recallNum` pending nodes; `spec`'s nodes must have been through
    check_node and prepare_nodes."""
    flow = RecallFlow(
        account_id=account_id,
        task_id=task_id,
        recall_type=int(spec["recallType"]),
        recall_interval=int(spec["recallInterval"]),
        recall_num=int(spec["recallNum"]),
        finish_num=0,
        status=RecallStatus.PENDING,
        created_at=now,
        recall_intents=_intents(spec),
    )
    session.add(flow)
    await session.flush()
    session.add_all(_nodes(flow.id, spec))
    await session.flush()
    return flow.id


async def pending_node_templates(session: AsyncSession, task_id: int) -> list[str | None]:
    """The texts of the task's pending recall nodes (a task update must keep their variables)."""
    rows = await session.scalars(
        select(RecallNode.params)
        .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
        .where(RecallFlow.task_id == task_id, RecallNode.status == RecallStatus.PENDING)
    )
    return node_templates(p or {} for p in rows)


async def cancel_pending_flows(session: AsyncSession, task_id: int) -> None:
    """The task was cancelled: its flow, if still pending, is cancelled with its pending nodes
    (a flow already running keeps its rounds)."""
    pending = select(RecallFlow.id).where(
        RecallFlow.task_id == task_id, RecallFlow.status == RecallStatus.PENDING
    )
    await session.execute(
        update(RecallNode)
        .where(RecallNode.flow_id.in_(pending), RecallNode.status == RecallStatus.PENDING)
        .values(status=RecallStatus.CANCELLED)
    )
    await session.execute(
        update(RecallFlow)
        .where(RecallFlow.task_id == task_id, RecallFlow.status == RecallStatus.PENDING)
        .values(status=RecallStatus.CANCELLED)
    )


async def _owned_flow(
    session: AsyncSession, account_id: int, flow_id: int, *, for_update: bool = False
) -> RecallFlow:
    """The account's flow; another account's is answered as not existing (-24)."""
    query = select(RecallFlow).where(RecallFlow.id == flow_id, RecallFlow.account_id == account_id)
    if for_update:
        query = query.with_for_update()
    flow = await session.scalar(query)
    if flow is None:
        raise ApiError(Code.NOT_FOUND, f"keyId: recall flow {flow_id} does not exist")
    return flow


def _fmt(value: datetime | None, zone_name: str) -> str | None:
    return value.astimezone(zone(zone_name)).strftime(SEND_TIME_FORMAT) if value else None


async def query_page(
    session: AsyncSession, account: Account, *, current: int, size: int, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    where: list[Any] = [RecallFlow.account_id == account.id]
    where += created_between(RecallFlow.created_at, params, account.timezone)
    name = str(params.get("taskName") or "").strip()
    if name:
        match = matching(Task.task_name, name)
        by_id = name.isdigit() and len(name) <= 9  # a task id; longer digit runs are names
        where.append(or_(match, Task.id == int(name)) if by_id else match)
    base = select(RecallFlow, Task.task_name).join(Task, Task.id == RecallFlow.task_id)
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(RecallFlow)
            .join(Task, Task.id == RecallFlow.task_id)
            .where(*where)
        )
        or 0
    )
    rows = (
        await session.execute(
            base.where(*where)
            .order_by(RecallFlow.created_at.desc(), RecallFlow.id.desc())
            .offset((current - 1) * size)
            .limit(size)
        )
    ).all()
    return [
        {
            "keyId": f.id,
            "taskId": f.task_id,
            "taskName": task_name,
            "createTime": _fmt(f.created_at, account.timezone),
            "recallType": f.recall_type,
            "recallInterval": f.recall_interval,
            "recallNum": f.recall_num,
            "finishNum": f.finish_num,
            "status": f.status,
        }
        for f, task_name in rows
    ], total


async def detail(session: AsyncSession, account: Account, flow_id: int) -> dict[str, Any]:
    flow = await _owned_flow(session, account.id, flow_id)
    nodes = list(
        (
            await session.scalars(
                select(RecallNode).where(RecallNode.flow_id == flow.id).order_by(RecallNode.seq)
            )
        ).all()
    )
    node_list = []
    for n in nodes:
        entry: dict[str, Any] = {k: None for k in NODE_KEYS}
        entry.update(n.params or {})
        entry.update(
            {
                "keyId": n.id,
                "taskId": n.task_id,
                "nodeStatus": n.status,
                "seq": n.seq,
                "runTime": _fmt(n.run_at, account.timezone),
            }
        )
        node_list.append(entry)
    return {
        "keyId": flow.id,
        "taskId": flow.task_id,
        "recallInterval": flow.recall_interval,
        "recallNum": flow.recall_num,
        "recallType": flow.recall_type,
        "recallIntent": flow.recall_intents,
        "status": flow.status,
        "finishNum": flow.finish_num,
        "nodeList": node_list,
        "total": len(node_list),
        "size": len(node_list),
        "current": 1,
        "searchCount": True,
        "pages": 1,
    }


async def update_flow(
    session: AsyncSession,
    account: Account,
    flow_id: int,
    spec: Mapping[str, Any],
    now: datetime,
    settings: Settings,
) -> None:
    """Replace a pending flow's settings and nodes (-54 once it has started)."""
    flow = await _owned_flow(session, account.id, flow_id, for_update=True)
    if flow.status != RecallStatus.PENDING:
        raise ApiError(
            Code.TASK_STATE,
            f"keyId: recall flow {flow_id} is {RecallStatus(flow.status).name.lower()}"
            "; only a pending flow can be updated",
        )
    task = await session.get(Task, flow.task_id)
    kind = TaskKind(task.kind) if task is not None else TaskKind.GROUP
    nodes = list(spec.get("nodeList") or [])
    for i, node in enumerate(nodes):
        check_node(node, f"nodeList[{i}].", kind)
    needed = task_rules.variables_used(*node_templates(nodes))
    if needed:
        infos = await session.scalars(
            select(Callee.info).where(Callee.task_id == flow.task_id).order_by(Callee.seq)
        )
        task_rules.check_variables(needed, infos, "the task's numberInfoList")
    prepared = await prepare_nodes(session, account.id, nodes, "nodeList", now, settings)
    flow.recall_type = int(spec["recallType"])
    flow.recall_interval = int(spec["recallInterval"])
    flow.recall_num = int(spec["recallNum"])
    flow.recall_intents = _intents(spec)
    await session.execute(delete(RecallNode).where(RecallNode.flow_id == flow.id))
    session.add_all(_nodes(flow.id, {**spec, "nodeList": prepared}))
    await session.flush()


async def cancel(session: AsyncSession, account: Account, kind: int, object_id: int) -> None:
    """1: the flow by its keyId; 2: the flow of a parent task; 3: a node and all later ones.
    Only pending flows and nodes can be cancelled (-54)."""
    if kind in (1, 2):
        if kind == 1:
            flow = await _owned_flow(session, account.id, object_id)
        else:
            found = await session.scalar(
                select(RecallFlow).where(
                    RecallFlow.task_id == object_id, RecallFlow.account_id == account.id
                )
            )
            if found is None:
                raise ApiError(Code.NOT_FOUND, f"id: task {object_id} has no recall flow")
            flow = found
        if flow.status != RecallStatus.PENDING:
            raise ApiError(
                Code.TASK_STATE,
                f"id: recall flow {flow.id} is {RecallStatus(flow.status).name.lower()}",
            )
        flow.status = RecallStatus.CANCELLED
        await session.execute(
            update(RecallNode)
            .where(RecallNode.flow_id == flow.id, RecallNode.status == RecallStatus.PENDING)
            .values(status=RecallStatus.CANCELLED)
        )
        return
    node = await session.scalar(
        select(RecallNode)
        .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
        .where(RecallNode.id == object_id, RecallFlow.account_id == account.id)
    )
    if node is None:
        raise ApiError(Code.NOT_FOUND, f"id: recall node {object_id} does not exist")
    if node.status != RecallStatus.PENDING:
        raise ApiError(
            Code.TASK_STATE,
            f"id: recall node {object_id} is {RecallStatus(node.status).name.lower()}",
        )
    await session.execute(
        update(RecallNode)
        .where(
            RecallNode.flow_id == node.flow_id,
            RecallNode.seq >= node.seq,
            RecallNode.status == RecallStatus.PENDING,
        )
        .values(status=RecallStatus.CANCELLED)
    )
    if node.seq == 1:
        await session.execute(
            update(RecallFlow)
            .where(RecallFlow.id == node.flow_id, RecallFlow.status == RecallStatus.PENDING)
            .values(status=RecallStatus.CANCELLED)
        )
