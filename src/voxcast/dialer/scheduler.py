"""Task life cycle over time: start at sendTime, finish when no callee is left, suspend when
the balance runs out, and run recall flows round by round. Idempotent, so any number of
workers may run it at once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from voxcast.dialer import store
from voxcast.domain import schedule
from voxcast.domain.enums import RecallStatus, RecallType, TaskStatus
from voxcast.domain.task_settings import SendWindow, from_params
from voxcast.domain.task_states import INITIAL_RECALL_ROUND
from voxcast.storage.models import RecallFlow, RecallNode, Task

_T = TypeVar("_T")

log = logging.getLogger("voxcast.scheduler")

BALANCE_REASON = "balance exhausted: top up, then resume the task"


def _zone(name: str) -> ZoneInfo:
    return schedule.zone(name)


def in_send_window(window: SendWindow, timezone: str, now: datetime) -> bool:
    """Whether the task's allowSendTime windows are open now (always, for per-callee windows:
    each callee is checked on its own when claimed)."""
    if window.per_callee:
        return True
    zone = _zone(window.zone_name(timezone))
    return schedule.open_at(window.windows, now.astimezone(zone).time())


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


def callee_in_window(window: SendWindow, number: str, now: datetime) -> datetime | None:
    """None when the callee may be dialed now, else when its next window opens."""
    zone = callee_zone(number)
    if schedule.open_at(window.windows, now.astimezone(_zone(zone)).time()):
        return None
    return schedule.next_open(window.windows, zone, now)


async def advance(session: store.Session, now: datetime) -> None:
    await store.start_due_tasks(session, now)
    await store.finish_done_tasks(session, now)
    await store.suspend_broke_tasks(session, now, BALANCE_REASON)
    await _advance_recalls(session, now)


# -- recall flows ----------------------------------------------------------------------------


async def _advance_recalls(session: store.Session, now: datetime) -> None:
    # one probe for the three steps; a step that changed something makes the next one read
    # again, as if it had not been probed (idle ticks send one statement, not three)
    work = await store.recall_work(session, now)
    changed = False
    # a pending flow starts when its parent task has finished: round 1 is due an interval later
    for flow, parent in await store.flows_to_start(session) if work.flows_to_start else []:
        if not await store.start_flow(session, flow.id):
            continue
        changed = True
        await store.schedule_node(
            session,
            flow.id,
            1,
            (parent.finished_at or now) + timedelta(minutes=flow.recall_interval),
        )

    due = await store.due_nodes(session, now) if work.due_nodes or changed else []
    for node, flow in due:
        changed = True
        await _run_node(session, flow, node, now)

    # a round ends with its task: finished or cancelled, or failed before dialing (its speech
    # could not be made), which is an exception of that round; the next one follows either way
    ended_nodes = await store.ended_nodes(session) if work.ended_nodes or changed else []
    for node, flow, child in ended_nodes:
        ended = (
            RecallStatus.EXCEPTION
            if child.status == TaskStatus.SUBMIT_FAILED
            else RecallStatus.COMPLETED
        )
        await _end_node(session, flow, node, ended, child.finished_at or now)


async def _previous_round_task(session: store.Session, flow: RecallFlow, node: RecallNode) -> int:
    if node.seq <= 1:
        return flow.task_id
    prev = await store.node_task(session, flow.id, node.seq - 1)
    return int(prev or flow.task_id)


async def _run_node(
    session: store.Session, flow: RecallFlow, node: RecallNode, now: datetime
) -> None:
    if not await store.start_node(session, node.id):
        return
    # the numbers come from the previous round; the settings from the parent task, with this
    # node's overrides only (a node without overrides repeats the task as it was)
    source_task_id = await _previous_round_task(session, flow, node)
    source = await store.task(session, flow.task_id)
    if source is None or await store.task(session, source_task_id) is None:
        await _end_node(session, flow, node, RecallStatus.EXCEPTION, now)
        return
    # a recall round calls the same callees again at the rate frozen when they were submitted
    rows = await store.recall_numbers(
        session,
        source_task_id,
        failed_only=flow.recall_type == RecallType.FAILED,
        intents=flow.recall_intents,
    )
    rows, dnc_skipped = await store.screen_numbers(session, source.account_id, source.app_id, rows)
    if not rows:
        await _end_node(session, flow, node, RecallStatus.COMPLETED, now)
        return
    # the round's overrides on top of the task's settings, stored as given like any task's
    params = dict(source.params or {})
    params.update({k: v for k, v in (node.params or {}).items() if v is not None})
    prompt = from_params(params).prompt
    child = Task(
        account_id=source.account_id,
        app_id=source.app_id,
        kind=source.kind,
        task_name=f"{_root_name(source)}-recall-{node.seq}"[:64],
        status=INITIAL_RECALL_ROUND,
        source=_given(prompt.source, source.source),
        voice_file_id=_given(prompt.voice_file_id, source.voice_file_id),
        text=_given(prompt.text, source.text),
        lan=_given(prompt.lan, source.lan),
        display_num=source.display_num,
        send_time=None,
        loop_count=source.loop_count,
        max_calls=source.max_calls,
        max_ringing_time=source.max_ringing_time,
        delay_play=source.delay_play,
        delay_hangup=source.delay_hangup,
        script_id=source.script_id,
        num_cnt=len(rows),
        dnc_skipped=dnc_skipped,
        params=params,
        parent_task_id=flow.task_id,
        recall_node_id=node.id,
        created_at=now,
        updated_at=now,
    )
    await store.add_round_task(session, child, node, rows)
    log.info(
        "recall flow %s round %s: task %s with %d numbers", flow.id, node.seq, child.id, len(rows)
    )


def _given(value: _T | None, fallback: _T | None) -> _T | None:
    return fallback if value is None else value


def _root_name(task: Task) -> str:
    name = task.task_name or f"task-{task.id}"
    return name.split("-recall-")[0]


async def _end_node(
    session: store.Session,
    flow: RecallFlow,
    node: RecallNode,
    status: RecallStatus,
    ended: datetime,
) -> None:
    """The round is over (COMPLETED, or EXCEPTION); the next one is due an interval after
    `ended`. The last round ends the flow: COMPLETED, or EXCEPTION if any round was one."""
    if not await store.end_node(session, node.id, status):
        return  # another worker ended it
    if status == RecallStatus.COMPLETED:
        await store.count_finished_round(session, flow.id)
    has_next = await store.schedule_node(
        session, flow.id, node.seq + 1, ended + timedelta(minutes=flow.recall_interval)
    )
    if has_next:
        return
    statuses = await store.other_node_statuses(session, flow.id, node.id)
    if statuses & {RecallStatus.PENDING, RecallStatus.IN_PROGRESS}:
        return
    failed = status == RecallStatus.EXCEPTION or RecallStatus.EXCEPTION in statuses
    await store.end_flow(
        session, flow.id, RecallStatus.EXCEPTION if failed else RecallStatus.COMPLETED
    )
