"""Task life cycle over time: start at sendTime, finish when no callee is left, suspend when
the balance runs out, and run recall flows round by round. Idempotent, so any number of
workers may run it at once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import schedule
from voxcast.domain.enums import CalleeState, RecallStatus, RecallType, TaskStatus
from voxcast.storage.models import Account, Callee, RecallFlow, RecallNode, Task

log = logging.getLogger("voxcast.scheduler")

BALANCE_REASON = "balance exhausted: top up, then resume the task"


def _zone(name: str) -> ZoneInfo:
    return schedule.zone(name)


def per_callee_windows(params: dict[str, Any]) -> bool:
    """`allowSendTimeZone: "callee"` (a voxcast extension): windows apply in each callee's
    local time, from the number's country."""
    return str(params.get("allowSendTimeZone") or "").lower() == "callee"


def task_zone(params: dict[str, Any], account_timezone: str) -> str:
    """The zone a task's windows and sendTime are read in: an IANA name given as
    `allowSendTimeZone`, else the account's zone."""
    given = str(params.get("allowSendTimeZone") or "")
    if given and given.lower() != "callee":
        return given
    return account_timezone


def in_send_window(params: dict[str, Any], timezone: str, now: datetime) -> bool:
    """Whether the task's allowSendTime windows are open now (always, for per-callee windows:
    each callee is checked on its own when claimed)."""
    if per_callee_windows(params):
        return True
    zone = _zone(task_zone(params, timezone))
    return schedule.in_windows(params.get("allowSendTime"), now.astimezone(zone).time())


def callee_zone(number: str) -> str:
    """The callee's time zone from its number; a country with several zones takes the first."""
    import phonenumbers
    from phonenumbers import timezone as pn_timezone

    try:
        zones = pn_timezone.time_zones_for_number(phonenumbers.parse("+" + number))
    except phonenumbers.NumberParseException:
        return "UTC"
    usable = [z for z in zones if z != "Etc/Unknown"]
    return usable[0] if usable else "UTC"


def callee_in_window(params: dict[str, Any], number: str, now: datetime) -> datetime | None:
    """None when the callee may be dialed now, else when its next window opens."""
    windows = params.get("allowSendTime")
    zone = callee_zone(number)
    if schedule.in_windows(windows, now.astimezone(_zone(zone)).time()):
        return None
    return schedule.next_opening(windows, zone, now)


async def advance(session: AsyncSession, now: datetime) -> None:
    await _start_due_tasks(session, now)
    await _finish_done_tasks(session, now)
    await _suspend_broke_accounts(session, now)
    await _advance_recalls(session, now)


async def _start_due_tasks(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        update(Task)
        .where(
            Task.status == TaskStatus.WAITING,
            or_(Task.send_time.is_(None), Task.send_time <= now),
        )
        .values(status=TaskStatus.SUBMITTING, started_at=None, updated_at=now, status_reason="")
        .execution_options(synchronize_session=False)
    )


async def _finish_done_tasks(session: AsyncSession, now: datetime) -> None:
    left = exists().where(
        Callee.task_id == Task.id,
        Callee.state.in_([CalleeState.PENDING, CalleeState.DIALING]),
    )
    await session.execute(
        update(Task)
        .where(Task.status == TaskStatus.CALLING, ~left)
        .values(status=TaskStatus.FINISHED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def _suspend_broke_accounts(session: AsyncSession, now: datetime) -> None:
    broke = select(Account.id).where(Account.balance <= 0)
    await session.execute(
        update(Task)
        .where(Task.status == TaskStatus.CALLING, Task.account_id.in_(broke))
        .values(status=TaskStatus.SUSPENDED, status_reason=BALANCE_REASON, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# -- recall flows ----------------------------------------------------------------------------


async def _advance_recalls(session: AsyncSession, now: datetime) -> None:
    # a pending flow starts when its parent task has finished: round 1 is due an interval later
    starting = (
        await session.execute(
            select(RecallFlow, Task)
            .join(Task, Task.id == RecallFlow.task_id)
            .where(RecallFlow.status == RecallStatus.PENDING, Task.status == TaskStatus.FINISHED)
        )
    ).all()
    for flow, parent in starting:
        claimed = await session.execute(
            update(RecallFlow)
            .where(RecallFlow.id == flow.id, RecallFlow.status == RecallStatus.PENDING)
            .values(status=RecallStatus.IN_PROGRESS)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            continue
        await _schedule_node(
            session,
            flow.id,
            1,
            (parent.finished_at or now) + timedelta(minutes=flow.recall_interval),
        )

    due = (
        await session.execute(
            select(RecallNode, RecallFlow)
            .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
            .where(
                RecallFlow.status == RecallStatus.IN_PROGRESS,
                RecallNode.status == RecallStatus.PENDING,
                RecallNode.run_at.is_not(None),
                RecallNode.run_at <= now,
            )
        )
    ).all()
    for node, flow in due:
        await _run_node(session, flow, node, now)

    running = (
        await session.execute(
            select(RecallNode, RecallFlow, Task)
            .join(RecallFlow, RecallFlow.id == RecallNode.flow_id)
            .join(Task, Task.id == RecallNode.task_id)
            .where(
                RecallNode.status == RecallStatus.IN_PROGRESS,
                Task.status.in_([TaskStatus.FINISHED, TaskStatus.CANCELED]),
            )
        )
    ).all()
    for node, flow, child in running:
        await _complete_node(session, flow, node, child.finished_at or now, now)


async def _schedule_node(session: AsyncSession, flow_id: int, seq: int, run_at: datetime) -> bool:
    result = await session.execute(
        update(RecallNode)
        .where(
            RecallNode.flow_id == flow_id,
            RecallNode.seq == seq,
            RecallNode.status == RecallStatus.PENDING,
        )
        .values(run_at=run_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _previous_round_task(session: AsyncSession, flow: RecallFlow, node: RecallNode) -> int:
    if node.seq <= 1:
        return flow.task_id
    prev = await session.scalar(
        select(RecallNode.task_id).where(
            RecallNode.flow_id == flow.id, RecallNode.seq == node.seq - 1
        )
    )
    return int(prev or flow.task_id)


async def _run_node(
    session: AsyncSession, flow: RecallFlow, node: RecallNode, now: datetime
) -> None:
    took = await session.execute(
        update(RecallNode)
        .where(RecallNode.id == node.id, RecallNode.status == RecallStatus.PENDING)
        .values(status=RecallStatus.IN_PROGRESS)
        .execution_options(synchronize_session=False)
    )
    if took.rowcount == 0:  # type: ignore[attr-defined]
        return
    source_task_id = await _previous_round_task(session, flow, node)
    source = await session.get(Task, source_task_id)
    if source is None:
        node.status = RecallStatus.EXCEPTION
        return
    # a recall round calls the same callees again at the rate frozen when they were submitted
    numbers = select(Callee.callee, Callee.info, Callee.rate).where(
        Callee.task_id == source_task_id
    )
    if flow.recall_type == RecallType.FAILED:
        numbers = numbers.where(or_(Callee.success.is_(None), Callee.success.is_(False)))
    rows = (await session.execute(numbers.order_by(Callee.seq))).all()
    if not rows:
        node.status = RecallStatus.COMPLETED
        await _complete_node(session, flow, node, now, now, already=True)
        return
    params = dict(source.params or {})
    params.update({k: v for k, v in (node.params or {}).items() if v is not None})
    child = Task(
        account_id=source.account_id,
        app_id=source.app_id,
        kind=source.kind,
        task_name=f"{_root_name(source)}-recall-{node.seq}"[:64],
        status=TaskStatus.SUBMITTING,
        source=params.get("source", source.source),
        voice_file_id=params.get("voiceFileId", source.voice_file_id),
        text=params.get("text", source.text),
        lan=params.get("lan", source.lan),
        display_num=source.display_num,
        send_time=None,
        loop_count=source.loop_count,
        max_calls=source.max_calls,
        max_ringing_time=source.max_ringing_time,
        delay_play=source.delay_play,
        delay_hangup=source.delay_hangup,
        script_id=source.script_id,
        num_cnt=len(rows),
        params=params,
        parent_task_id=flow.task_id,
        recall_node_id=node.id,
        created_at=now,
        updated_at=now,
    )
    session.add(child)
    await session.flush()
    await session.execute(
        insert(Callee),
        [
            {
                "task_id": child.id,
                "seq": i,
                "callee": callee,
                "info": info,
                "state": 0,
                "attempts": 0,
                "rate": rate,
            }
            for i, (callee, info, rate) in enumerate(rows, start=1)
        ],
    )
    node.task_id = child.id
    log.info(
        "recall flow %s round %s: task %s with %d numbers", flow.id, node.seq, child.id, len(rows)
    )


def _root_name(task: Task) -> str:
    name = task.task_name or f"task-{task.id}"
    return name.split("-recall-")[0]


async def _complete_node(
    session: AsyncSession,
    flow: RecallFlow,
    node: RecallNode,
    finished: datetime,
    now: datetime,
    *,
    already: bool = False,
) -> None:
    if not already:
        done = await session.execute(
            update(RecallNode)
            .where(RecallNode.id == node.id, RecallNode.status == RecallStatus.IN_PROGRESS)
            .values(status=RecallStatus.COMPLETED)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            return
    await session.execute(
        update(RecallFlow)
        .where(RecallFlow.id == flow.id)
        .values(finish_num=RecallFlow.finish_num + 1)
        .execution_options(synchronize_session=False)
    )
    has_next = await _schedule_node(
        session, flow.id, node.seq + 1, finished + timedelta(minutes=flow.recall_interval)
    )
    if not has_next:
        more = await session.scalar(
            select(RecallNode.id).where(
                RecallNode.flow_id == flow.id,
                RecallNode.status.in_([RecallStatus.PENDING, RecallStatus.IN_PROGRESS]),
                RecallNode.id != node.id,
            )
        )
        if more is None:
            await session.execute(
                update(RecallFlow)
                .where(RecallFlow.id == flow.id, RecallFlow.status == RecallStatus.IN_PROGRESS)
                .values(status=RecallStatus.COMPLETED)
                .execution_options(synchronize_session=False)
            )
