"""A script tried on the sandbox (the console's "try it"): an AI group call of the script to one
of the sandbox's speaking callees, created as `voice/group/call/send/ai` creates it, and what
the call came to (its status and the conversation's transcript)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.config import Settings
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.services import accounts, scripts, tasks
from voxcast.storage.models import CallRecord, Task

#: the sandbox's speaking callees (docs/sandbox.md#speaking-callees-ai-calls) a trial may call
CALLEES = {
    "8613000000010": "agrees, then names a day to pay",
    "8613000000011": "presses 1 after each prompt",
    "8613000000012": "says it is the wrong number",
    "8613000000013": "asks who is calling first",
    "8613000000019": "stays silent",
    "8613000000080": "talks over the robot: busy, call later",
}
#: the statuses after which a trial's task makes no more calls
ENDED = (TaskStatus.FINISHED, TaskStatus.CANCELED, TaskStatus.SUBMIT_FAILED)


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str
    start_ms: int | None


@dataclass(frozen=True)
class Outcome:
    """Where a trial is: its task's status, and once its call ended the record's facts."""

    task_id: int
    status: TaskStatus
    callee: str
    ended: bool
    answered: bool = False
    result: str | None = None
    intent_level: str | None = None
    lines: tuple[Line, ...] = ()


def transcript(conversation: dict[str, Any] | None) -> tuple[Line, ...]:
    """A call record's conversation as lines, in the order they were said."""
    turns = (conversation or {}).get("turns", [])
    return tuple(
        Line(str(t.get("speaker", "")), str(t.get("text", "")), t.get("start_ms")) for t in turns
    )


async def start(
    session: AsyncSession,
    account_id: int,
    fields: dict[str, Any],
    callee: str,
    now: datetime,
    settings: Settings,
) -> int:
    """A one-number AI task to a sandbox callee, of `fields` (`voice/group/call/send/ai`'s
    body as its request model read it, without the numbers); its task id. Refused (-22) on an
    account whose calls go out through a trunk: the number would be really dialed."""
    if callee not in CALLEES:
        raise ApiError(Code.PARAMETER, f"callee: {callee[:20]!r} is not a sandbox test number")
    account = await accounts.get_account(session, account_id)
    if account.trunk:
        raise ApiError(
            Code.PARAMETER,
            f"callee: the account's calls go out through trunk {account.trunk!r}, not the "
            "sandbox; try a script with an account on the sandbox",
        )
    await scripts.get_script(session, account_id, int(fields["scriptId"]), "scriptId")
    numbers, field = tasks.collect_numbers([{"calleeNumber": callee}], None, ai=True)
    spec = tasks.Spec(
        TaskKind.AI, str(fields["appId"]), str(fields["taskName"]), fields, numbers, field
    )
    return await tasks.create(session, account, spec, now, settings)


async def outcome(session: AsyncSession, account_id: int, task_id: int) -> Outcome:
    """The trial's state; another account's task, or one that is no AI task, is -24."""
    task = await session.scalar(
        select(Task).where(
            Task.id == task_id, Task.account_id == account_id, Task.kind == TaskKind.AI
        )
    )
    if task is None:
        raise ApiError(Code.NOT_FOUND, f"task {task_id} does not exist")
    status = TaskStatus(task.status)
    rec = await session.scalar(
        select(CallRecord)
        .where(CallRecord.task_id == task_id, CallRecord.account_id == account_id)
        .order_by(CallRecord.submit_time.desc())
        .limit(1)
    )
    if rec is None or rec.hangup_time is None:
        return Outcome(task_id, status, rec.callee if rec else "", ended=status in ENDED)
    conversation = rec.conversation or {}
    return Outcome(
        task_id,
        status,
        rec.callee,
        ended=True,
        answered=rec.answer_time is not None,
        result=conversation.get("result_status"),
        intent_level=conversation.get("intent_level"),
        lines=transcript(rec.conversation),
    )
