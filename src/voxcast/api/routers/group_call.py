"""IVR group-call tasks: send (normal and AI), update, resend, query, detail, pause, resume and
cancel. Routes are thin: parse, call voxcast.services.tasks, wrap in the envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path

from voxcast.api.base import MAX_ID, page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.api.schemas.tasks import (
    GroupCallResend,
    GroupCallResendAI,
    GroupCallSend,
    GroupCallSendAI,
    GroupCallUpdate,
    GroupCallUpdateAI,
    TaskIds,
    TaskQuery,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskKind
from voxcast.domain.task_states import IllegalTransition, TaskEvent
from voxcast.services import tasks

router = APIRouter(route_class=VendorRoute, tags=["group-call tasks"])
P = "/voice/group/call"


def _fields(req: Any, *exclude: str) -> dict[str, Any]:
    """The task's settings; the numbers are taken apart separately (never dumped again)."""
    skip = {"numberInfoList", "numberList", "recallFlow", *exclude}
    return dict(req.model_dump(exclude_none=True, exclude=skip))


@contextmanager
def _state_error(reason: Callable[[IllegalTransition], str]) -> Iterator[None]:
    """A task whose status does not allow the request is -54 (the code these endpoints list)."""
    try:
        yield
    except IllegalTransition as err:
        raise ApiError(Code.TASK_STATE, reason(err)) from None


def _status_reason(err: IllegalTransition) -> str:
    return f"task {err.task_id} is {err.status.name.lower()}"


def _update_reason(err: IllegalTransition) -> str:
    return (
        f"keyId: task {err.task_id} is {err.status.name.lower()}; "
        "only a waiting task can be updated"
    )


def _recall(req: GroupCallSend | GroupCallSendAI) -> dict[str, Any] | None:
    return req.recallFlow.model_dump(exclude_none=True) if req.recallFlow else None


@router.post(f"{P}/send", openapi_extra=envelope(Family.CODE))
async def send(req: GroupCallSend, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Create a group-call task; `data` is its taskId (keyId)."""
    # the request's numberInfoList is not read again: its dicts become the infos
    numbers, field = tasks.collect_numbers(req.numberInfoList, req.numberList, reuse=True)
    spec = tasks.Spec(
        TaskKind.GROUP,
        req.appId,
        req.taskName,
        _fields(req),
        numbers,
        field,
        recall_flow=_recall(req),
    )
    async with rt.sessions.begin() as session:
        task_id = await tasks.create(session, account, spec, rt.clock.now(), rt.settings)
    return ok(Family.CODE, task_id)


@router.post(f"{P}/send/ai", openapi_extra=envelope(Family.CODE))
async def send_ai(req: GroupCallSendAI, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Create an AI voice (speech template) task; `data` is its taskId."""
    numbers, field = tasks.collect_numbers(req.numberInfoList, req.numberList, ai=True, reuse=True)
    spec = tasks.Spec(
        TaskKind.AI, req.appId, req.taskName, _fields(req), numbers, field, recall_flow=_recall(req)
    )
    async with rt.sessions.begin() as session:
        task_id = await tasks.create(session, account, spec, rt.clock.now(), rt.settings)
    return ok(Family.CODE, task_id)


async def _update(
    req: GroupCallUpdate | GroupCallUpdateAI, kind: TaskKind, account: CurrentAccount, rt: Rt
) -> dict[str, Any]:
    infos, plain = req.numberInfoList, req.numberList
    # no list keeps the task's numbers; a list given empty is "no number" (-35)
    replace = infos is not None or plain is not None
    if replace:
        numbers, field = tasks.collect_numbers(infos, plain, ai=kind == TaskKind.AI, reuse=True)
    else:
        numbers, field = [], "numberInfoList"
    with _state_error(_update_reason):
        async with rt.sessions.begin() as session:
            current = await tasks.owned_task(session, account.id, req.keyId)
            app_id = getattr(req, "appId", None) or current.app_id
            spec = tasks.Spec(
                kind, app_id, req.taskName, _fields(req), numbers, field, replace_numbers=replace
            )
            await tasks.update_task(session, account, req.keyId, spec, rt.clock.now(), rt.settings)
    return ok(Family.STATUS)


@router.post(f"{P}/update", openapi_extra=envelope(Family.STATUS))
async def update(req: GroupCallUpdate, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change a task that has not started yet (status 0)."""
    return await _update(req, TaskKind.GROUP, account, rt)


@router.post(f"{P}/update/ai", openapi_extra=envelope(Family.STATUS))
async def update_ai(req: GroupCallUpdateAI, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change an AI task that has not started yet (status 0)."""
    return await _update(req, TaskKind.AI, account, rt)


async def _resend(
    req: GroupCallResend | GroupCallResendAI, kind: TaskKind, account: CurrentAccount, rt: Rt
) -> dict[str, Any]:
    async with rt.sessions.begin() as session:
        task_id = await tasks.resend(
            session,
            account,
            req.keyId,
            task_name=req.taskName,
            failed_only=req.resendType == 1,
            fields=_fields(req, "keyId", "resendType"),
            kind=kind,
            now=rt.clock.now(),
            settings=rt.settings,
        )
    return ok(Family.STATUS, task_id)


@router.post(f"{P}/resend", openapi_extra=envelope(Family.STATUS))
async def resend(req: GroupCallResend, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Call all (resendType 0) or only the failed (1) numbers of a finished or cancelled task
    again, as a new task; `data` is the new taskId."""
    return await _resend(req, TaskKind.GROUP, account, rt)


@router.post(f"{P}/resend/ai", openapi_extra=envelope(Family.STATUS))
async def resend_ai(req: GroupCallResendAI, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The AI version of resend."""
    return await _resend(req, TaskKind.AI, account, rt)


@router.post(f"{P}/query", openapi_extra=envelope(Family.CODE))
async def query(req: TaskQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's tasks, newest first, with progress."""
    params = req.params.model_dump(exclude_none=True) if req.params else {}
    async with rt.readonly() as session:
        records, total = await tasks.query(
            session, account, current=req.current, size=req.size, params=params
        )
    return ok(Family.CODE, page_body(list(records), total, req.current, req.size))


@router.get(f"{P}/detail/{{task_id}}", openapi_extra=envelope(Family.CODE))
async def detail(
    task_id: Annotated[str, Path(description="Id of the task (send's answer, query's taskId)")],
    account: CurrentAccount,
    rt: Rt,
) -> dict[str, Any]:
    """One task with live counters (called, answered, failed, pending) and call statistics."""
    if not task_id.strip().isdigit() or not 1 <= int(task_id) <= MAX_ID:
        raise ApiError(Code.PARAMETER, f"id: {task_id!r} is not a task id")
    async with rt.readonly() as session:
        data = await tasks.detail(session, account, int(task_id))
    return ok(Family.CODE, data)


def _ids(req: TaskIds) -> list[int]:
    return list(req.jobIdList or []) + list(req.taskIdList or [])


@router.post(f"{P}/provisional", openapi_extra=envelope(Family.CODE))
async def pause(req: TaskIds, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Pause tasks (status 5): no new call starts; calls in progress finish."""
    with _state_error(_status_reason):
        async with rt.sessions.begin() as session:
            await tasks.change_status(
                session, account.id, _ids(req), event=TaskEvent.PAUSE, now=rt.clock.now()
            )
    return ok(Family.CODE)


@router.post(f"{P}/resume", openapi_extra=envelope(Family.CODE))
async def resume(req: TaskIds, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """voxcast extension: resume paused tasks (back to waiting; they start at once if due)."""
    with _state_error(_status_reason):
        async with rt.sessions.begin() as session:
            await tasks.change_status(
                session, account.id, _ids(req), event=TaskEvent.RESUME, now=rt.clock.now()
            )
    return ok(Family.CODE)


@router.post(f"{P}/cancel", openapi_extra=envelope(Family.CODE))
async def cancel(req: TaskIds, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Cancel tasks (status 4) and their pending recall flows."""
    with _state_error(_status_reason):
        async with rt.sessions.begin() as session:
            await tasks.change_status(
                session, account.id, _ids(req), event=TaskEvent.CANCEL, now=rt.clock.now()
            )
    return ok(Family.CODE)
