"""The one writer of a task's status: every change goes through `move` (a loaded row) or
`move_where` (a bulk update), which follow the table in `voxcast.domain.task_states` and set
the columns that go with the new status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.enums import TaskStatus
from voxcast.domain.task_states import FINAL, TaskEvent, next_status, sources, target
from voxcast.storage.models import Task


def _columns(to: TaskStatus, event: TaskEvent, now: datetime, reason: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": to,
        "status_reason": reason,
        "updated_at": now,
        "finished_at": now if to in FINAL else None,
    }
    if event == TaskEvent.START:
        values["started_at"] = None  # the dialer stamps it when it takes the task
    elif event in (TaskEvent.PREPARED, TaskEvent.PREPARE_FAILED):
        values["started_at"] = now
    return values


def move(task: Task, event: TaskEvent, now: datetime, *, reason: str = "") -> TaskStatus:
    """Apply `event` to a loaded task; IllegalTransition (nothing changed) when its status
    does not allow it."""
    to = next_status(task.status, event, task.id)
    for name, value in _columns(to, event, now, reason).items():
        setattr(task, name, value)
    return to


async def move_where(
    session: AsyncSession,
    event: TaskEvent,
    now: datetime,
    *conditions: ColumnElement[bool],
    reason: str = "",
) -> int:
    """Apply `event` to every task matching `conditions` whose status allows it (the others
    are left alone: several workers run these at once); how many moved."""
    to = target(event)
    result = await session.execute(
        update(Task)
        .where(Task.status.in_(sorted(sources(event))), *conditions)
        .values(**_columns(to, event, now, reason))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
