"""AiVoice robot tasks (spec supplement B.3-B.10, lifecycle B.14) on voxcast's task rows: add
and edit, start, stop and delete through the task state machine, list, the script's variables,
customers in and out, and the numbers not yet finished. Fields come in camelCase, validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import aivoice_tasks as ai
from voxcast.domain import task_states
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import CalleeState, TaskKind, TaskStatus
from voxcast.domain.schedule import (
    SEND_TIME_FORMAT,
    Window,
    open_at,
    parse_hhmm,
    parse_send_time,
    zone,
)
from voxcast.domain.task_settings import from_params
from voxcast.domain.task_states import IllegalTransition, TaskEvent
from voxcast.services import accounts, listing, rates, scripts
from voxcast.services.listing import matching
from voxcast.storage import task_status
from voxcast.storage.models import Account, Callee, Task
from voxcast.storage.scripts import ScriptRow

#: longest conversation (seconds) and ring time of a robot call
MAX_TALK_S = 600
MAX_RING_S = 60
_PHONE_DIGITS = range(6, 19)
_MAX_TEXT = 1000
_MAX_NAME = 64
#: request fields that are not settings of the task
_NOT_SETTINGS = ("appId", "jobId")


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int


def _bad(detail: str) -> ApiError:
    return ApiError(Code.PARAMETER, detail)


def _fmt(value: datetime | None, zone_name: str) -> str | None:
    return value.astimezone(zone(zone_name)).strftime(SEND_TIME_FORMAT) if value else None


# -- settings -----------------------------------------------------------------------------------


def _hhmm(value: Any, field: str) -> time:
    try:
        return parse_hhmm(value if isinstance(value, str) else "")
    except ValueError:
        raise _bad(f"{field}: must be HH:mm") from None


def _date(value: Any, field: str) -> date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _bad(f"{field}: must be yyyy-MM-dd")


def _datetime(value: Any, field: str, zone_name: str) -> datetime:
    try:
        return parse_send_time(value if isinstance(value, str) else "", zone_name)
    except ValueError:
        raise _bad(f"{field}: must be yyyy-MM-dd HH:mm:ss") from None


def _settings(fields: dict[str, Any], zone_name: str) -> tuple[dict[str, Any], datetime | None]:
    """The params a task keeps (the request's settings, with its dialing windows as
    allowSendTime) and its start time (AUTO tasks); -27 naming the field that is wrong."""
    start_at: datetime | None = None
    if fields["mode"] == ai.AUTO:
        if not fields.get("startDateTime"):
            raise _bad("startDateTime: required when mode is AUTO")
        start_at = _datetime(fields["startDateTime"], "startDateTime", zone_name)
    elif fields.get("startDateTime"):
        _datetime(fields["startDateTime"], "startDateTime", zone_name)
    if fields.get("endDateTime"):
        end_at = _datetime(fields["endDateTime"], "endDateTime", zone_name)
        if start_at is not None and end_at <= start_at:
            raise _bad("endDateTime: must be after startDateTime")
    daily_start = _hhmm(fields["dailyStartDateTime"], "dailyStartDateTime")
    daily_end = _hhmm(fields["dailyEndDateTime"], "dailyEndDateTime")
    if daily_end <= daily_start:
        raise _bad("dailyEndDateTime: must be after dailyStartDateTime")
    gaps = []
    for i, w in enumerate(fields.get("inactiveTimeList") or []):
        a = _hhmm(w.get("startTime"), f"inactiveTimeList[{i}].startTime")
        b = _hhmm(w.get("endTime"), f"inactiveTimeList[{i}].endTime")
        if b <= a:
            raise _bad(f"inactiveTimeList[{i}].endTime: must be after startTime")
        gaps.append(Window(a, b))
    for i, d in enumerate(fields.get("inactiveDateList") or []):
        a_day = _date(d.get("startDate"), f"inactiveDateList[{i}].startDate")
        b_day = _date(d.get("endDate"), f"inactiveDateList[{i}].endDate")
        if b_day < a_day:
            raise _bad(f"inactiveDateList[{i}].endDate: must not be before startDate")
    windows = ai.dialing_windows(daily_start, daily_end, gaps)
    if not windows:
        raise _bad("inactiveTimeList: covers the whole daily window")
    params = {k: v for k, v in fields.items() if k not in _NOT_SETTINGS}
    params["allowSendTime"] = [
        {"strTime": w.start.strftime("%H:%M"), "endTime": w.end.strftime("%H:%M")} for w in windows
    ]
    return params, start_at


async def _check_refs(session: AsyncSession, account_id: int, fields: dict[str, Any]) -> None:
    await scripts.get_script(session, account_id, int(fields["dialogFlowId"]))
    lines = await scripts.lines(session, account_id)
    if int(fields["jobPhoneNumberId"]) not in {line.id for line in lines}:
        raise _bad(
            f"jobPhoneNumberId: {fields['jobPhoneNumberId']} is not one of the account's lines"
            " (channelList)"
        )


async def _check_name(
    session: AsyncSession, account_id: int, name: str, exclude: int | None = None
) -> None:
    # task names are unique per account across every kind of task (group calls too)
    query = select(Task.id).where(Task.account_id == account_id, Task.task_name == name)
    if exclude is not None:
        query = query.where(Task.id != exclude)
    if await session.scalar(query.limit(1)) is not None:
        raise _bad(f"name: a task named {name!r} already exists")


async def require_price(session: AsyncSession, account_id: int) -> None:
    """-50: the account has no rate at all, so no call of it could be priced."""
    book = await rates.load_rate_book(session, account_id)
    if not book.account and not book.platform:
        raise ApiError(Code.FEE, "the account has no rate for any destination")


# -- tasks ---------------------------------------------------------------------------------------


async def owned_task(
    session: AsyncSession, account_id: int, app_id: str, job_id: int, *, for_update: bool = False
) -> Task:
    """The app's AiVoice task; any other id (another account's, a group call, a deleted
    task) is -32."""
    query = select(Task).where(
        Task.id == job_id,
        Task.account_id == account_id,
        Task.app_id == app_id,
        Task.kind == TaskKind.AIVOICE,
        Task.status != TaskStatus.DELETED,
    )
    if for_update:
        query = query.with_for_update()
    task = await session.scalar(query)
    if task is None:
        raise ApiError(Code.NOT_FOUND, f"jobId: {job_id} does not exist")
    return task


async def add_task(
    session: AsyncSession, account: Account, fields: dict[str, Any], now: datetime
) -> int:
    """A new task with no customers: MANUAL ones stopped until taskStart, AUTO ones waiting
    for startDateTime (B.14); its jobId."""
    app_id = str(fields["appId"])
    await accounts.require_app(session, account.id, app_id)
    await require_price(session, account.id)
    params, start_at = _settings(fields, account.timezone)
    await _check_refs(session, account.id, fields)
    await _check_name(session, account.id, str(fields["name"]))
    task = Task(
        account_id=account.id,
        app_id=app_id,
        kind=TaskKind.AIVOICE,
        task_name=str(fields["name"]),
        status=task_states.INITIAL if start_at is not None else task_states.INITIAL_STOPPED,
        status_reason="",
        send_time=start_at,
        loop_count=1,
        max_calls=MAX_TALK_S,
        max_ringing_time=MAX_RING_S,
        script_id=int(fields["dialogFlowId"]),
        num_cnt=0,
        params=params,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    return task.id


def _running(task: Task, now: datetime) -> bool:
    """Dialing, or about to: what the owner must stop before editing or deleting it."""
    return task.status in (TaskStatus.SUBMITTING, TaskStatus.CALLING) or (
        task.status == TaskStatus.WAITING and ai.start_due(task.send_time, now)
    )


def _ended(task: Task) -> ApiError:
    state = TaskStatus(task.status).name.lower().replace("_", " ")
    return _bad(f"jobId: task {task.id} is {state}")


async def edit_task(
    session: AsyncSession, account: Account, fields: dict[str, Any], now: datetime
) -> None:
    """Change a task that is not running (not started, paused, waiting for its start time, or
    completed); -27 while it runs. A change of mode moves a task that has never dialed between
    stopped (MANUAL) and waiting for its start (AUTO)."""
    app_id = str(fields["appId"])
    await accounts.require_app(session, account.id, app_id)
    task = await owned_task(session, account.id, app_id, int(fields["jobId"]), for_update=True)
    if _running(task, now):
        raise _bad(f"jobId: task {task.id} is running: stop it (taskStop) first")
    if task.status in (TaskStatus.SUBMIT_FAILED, TaskStatus.CANCELED):
        raise _ended(task)
    params, start_at = _settings(fields, account.timezone)
    await _check_refs(session, account.id, fields)
    await _check_name(session, account.id, str(fields["name"]), exclude=task.id)
    never_dialed = task.started_at is None and not task.status_reason
    if start_at is None and task.status == TaskStatus.WAITING:
        task_status.move(task, TaskEvent.PAUSE, now)  # AUTO → MANUAL before its start
    elif start_at is not None and task.status == TaskStatus.SUSPENDED and never_dialed:
        task_status.move(task, TaskEvent.RESUME, now)  # MANUAL → AUTO: waits for its start
    task.send_time = start_at
    task.task_name = str(fields["name"])
    task.script_id = int(fields["dialogFlowId"])
    task.params = params
    task.updated_at = now


async def start_task(
    session: AsyncSession, account_id: int, app_id: str, job_id: int, now: datetime
) -> None:
    """Dial the task's customers now: a stopped task resumes, one waiting for its start time
    starts at once, a running one is left as it is; a completed task is -27."""
    await accounts.require_app(session, account_id, app_id)
    task = await owned_task(session, account_id, app_id, job_id, for_update=True)
    if task.status == TaskStatus.SUSPENDED:
        task_status.move(task, TaskEvent.RESUME, now)
    elif task.status not in ai.RUNNING:
        raise _ended(task)
    task.send_time = None


async def stop_task(
    session: AsyncSession, account_id: int, app_id: str, job_id: int, now: datetime
) -> None:
    """Pause the task (calls in progress end normally, no new one starts); a stopped task is
    left as it is; a completed task is -27."""
    await accounts.require_app(session, account_id, app_id)
    task = await owned_task(session, account_id, app_id, job_id, for_update=True)
    if task.status in ai.RUNNING:
        task_status.move(task, TaskEvent.PAUSE, now)
    elif task.status != TaskStatus.SUSPENDED:
        raise _ended(task)


async def delete_task(
    session: AsyncSession, account_id: int, app_id: str, job_id: int, now: datetime
) -> None:
    """Delete a task that is not running (-27 while it runs); later requests naming it get -32.
    Its call records stay in recordQuery, and its name is free again."""
    await accounts.require_app(session, account_id, app_id)
    task = await owned_task(session, account_id, app_id, job_id, for_update=True)
    if _running(task, now):
        raise _bad(f"jobId: task {task.id} is running: stop it (taskStop) first")
    try:
        task_status.move(task, TaskEvent.DELETE, now)
    except IllegalTransition:
        raise _ended(task) from None
    task.task_name = None


async def _script_rows(session: AsyncSession, ids: set[int]) -> dict[int, ScriptRow]:
    if not ids:
        return {}
    rows = await session.scalars(select(ScriptRow).where(ScriptRow.id.in_(sorted(ids))))
    return {r.id: r for r in rows}


async def _counts(session: AsyncSession, task_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per task: numbers in it, and numbers called successfully (answered)."""
    if not task_ids:
        return {}
    answered = (Callee.state == CalleeState.DONE) & Callee.success.is_(True)
    rows = await session.execute(
        select(Callee.task_id, func.count(), func.sum(case((answered, 1), else_=0)))
        .where(Callee.task_id.in_(task_ids))
        .group_by(Callee.task_id)
    )
    return {tid: (int(total or 0), int(done or 0)) for tid, total, done in rows}


def _status_of(task: Task, zone_name: str, now: datetime) -> str:
    windows = from_params(task.params).send_window.windows
    return ai.task_status(
        task.status,
        ever_dialed=task.started_at is not None,
        reason=task.status_reason,
        start_due=ai.start_due(task.send_time, now),
        window_open=open_at(windows, now.astimezone(zone(zone_name)).time()),
    )


async def list_tasks(
    session: AsyncSession,
    account: Account,
    app_id: str,
    name: str | None,
    current: int,
    size: int,
    now: datetime,
) -> Page:
    """The app's tasks, newest first (B.9), `name` matched as a fuzzy search."""
    await accounts.require_app(session, account.id, app_id)
    await require_price(session, account.id)
    where: list[ColumnElement[bool]] = [
        Task.account_id == account.id,
        Task.app_id == app_id,
        Task.kind == TaskKind.AIVOICE,
        Task.status != TaskStatus.DELETED,
    ]
    if name:
        where.append(matching(Task.task_name, name))
    total, tasks = await listing.task_page(session, where, current, size)
    counts = await _counts(session, [t.id for t in tasks])
    found = await _script_rows(session, {t.script_id for t in tasks if t.script_id is not None})
    line_names = {line.id: line.name for line in await scripts.lines(session, account.id)}
    records = []
    for t in tasks:
        script = found.get(t.script_id or 0)
        total_n, done_n = counts.get(t.id, (0, 0))
        p = t.params or {}
        records.append(
            {
                "jobId": t.id,
                "name": t.task_name,
                "dialogFlowName": script.name if script else None,
                "jobPhoneNumberName": line_names.get(int(p.get("jobPhoneNumberId") or 0)),
                "robotCount": p.get("robotCount"),
                "mode": p.get("mode"),
                "hangupSms": False,
                "taskTotal": total_n,
                "taskCompleted": done_n,
                "status": _status_of(t, account.timezone, now),
                "isDialogFlowUnbind": "false" if script else "true",
                "createTime": _fmt(t.created_at, account.timezone),
            }
        )
    return Page(records, total)


async def task_variables(
    session: AsyncSession, account_id: int, app_id: str, job_id: int
) -> list[str]:
    """The customer `properties` the task's script uses (B.5); none when its script is gone."""
    await accounts.require_app(session, account_id, app_id)
    task = await owned_task(session, account_id, app_id, job_id)
    row = await session.get(ScriptRow, task.script_id) if task.script_id else None
    return list(scripts.variables_of(row)) if row is not None else []


# -- customers -----------------------------------------------------------------------------------


def _person_problem(person: Any, needed: tuple[str, ...]) -> str | None:
    """Why an imported customer cannot be taken as given, or None."""
    if not isinstance(person, dict):
        return "must be an object"
    number = person.get("phoneNumber")
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if not isinstance(number, str) or not number.isdigit() or len(number) not in _PHONE_DIGITS:
        return "phoneNumber: must be 6-18 digits"
    name = person.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > _MAX_NAME):
        return f"name: must be text of at most {_MAX_NAME} characters"
    if person.get("gender") is not None and person.get("gender") not in ai.GENDERS:
        return "gender: must be MALE, FEMALE or null"
    props = person.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            return "properties: must be an object of texts"
        for key, value in props.items():
            if len(key) > _MAX_NAME or "\x00" in key:
                return f"properties: key {key[:_MAX_NAME]!r} is too long"
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                return f"properties.{key}: must be text"
            if len(str(value)) > _MAX_TEXT or "\x00" in str(value):
                return f"properties.{key}: at most {_MAX_TEXT} characters of text"
    missing = [v for v in needed if not str((props or {}).get(v) or "")]
    if missing:
        return "properties: the script needs " + ", ".join(missing)
    return None


def _number_problem(
    number: str, seen: set[str], state: int | None, skip_called: bool, rate: Decimal | None
) -> str | None:
    """Why a well-formed customer's number cannot be added to the task, or None."""
    if number in seen:
        return "phoneNumber: given twice in this request"
    if state in (CalleeState.PENDING, CalleeState.DIALING):
        return "phoneNumber: already waiting to be called in this task"
    if skip_called and state is not None:
        return "phoneNumber: already called in this task (callRecordDup)"
    if rate is None:
        return "phoneNumber: no rate for this destination"
    return None


async def import_customers(
    session: AsyncSession,
    account: Account,
    app_id: str,
    job_id: int,
    persons: list[Any],
    *,
    skip_called: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """Add customers to a task (B.6); the rows not taken, each as given with a `reason`. A
    completed task dials again; a running one dials them in its next rounds."""
    await accounts.require_app(session, account.id, app_id)
    task = await owned_task(session, account.id, app_id, job_id, for_update=True)
    if task.status in (TaskStatus.SUBMIT_FAILED, TaskStatus.CANCELED):
        raise _ended(task)
    script = await session.get(ScriptRow, task.script_id) if task.script_id else None
    needed = scripts.variables_of(script) if script is not None else ()
    book = await rates.load_rate_book(session, account.id)
    states = dict(
        (
            await session.execute(
                select(Callee.callee, func.min(Callee.state))
                .where(Callee.task_id == task.id)
                .group_by(Callee.callee)
            )
        ).all()
    )
    failed: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    seq = int(
        await session.scalar(select(func.max(Callee.seq)).where(Callee.task_id == task.id)) or 0
    )
    seen: set[str] = set()
    for person in persons:
        problem = _person_problem(person, needed)
        number = str(person.get("phoneNumber")) if problem is None else ""
        rate = book.lookup(number) if problem is None else None
        if problem is None:
            problem = _number_problem(number, seen, states.get(number), skip_called, rate)
        if problem is not None:
            echo = dict(person) if isinstance(person, dict) else {"customer": person}
            failed.append(echo | {"reason": problem})
            continue
        seen.add(number)
        seq += 1
        props = {str(k): str(v) for k, v in (person.get("properties") or {}).items()}
        rows.append(
            {
                "task_id": task.id,
                "seq": seq,
                "callee": number,
                "info": ai.customer_info(person.get("name"), person.get("gender"), props),
                "state": CalleeState.PENDING,
                "attempts": 0,
                "rate": rate,
            }
        )
    if rows:
        await session.execute(insert(Callee), rows)
        task.num_cnt += len(rows)
        task.updated_at = now
        if task.status == TaskStatus.FINISHED:
            task_status.move(task, TaskEvent.REOPEN, now)
    return failed


async def delete_uncalled(
    session: AsyncSession, account_id: int, app_id: str, job_id: int, numbers: list[str]
) -> int:
    """Remove the listed numbers that are still waiting to be called (B.7); the others (being
    called or called) are left alone. How many were removed."""
    await accounts.require_app(session, account_id, app_id)
    task = await owned_task(session, account_id, app_id, job_id, for_update=True)
    result = await session.execute(
        delete(Callee)
        .where(
            Callee.task_id == task.id,
            Callee.state == CalleeState.PENDING,
            Callee.callee.in_(sorted(set(numbers))),
        )
        .execution_options(synchronize_session=False)
    )
    removed = int(result.rowcount)  # type: ignore[attr-defined]
    task.num_cnt = max(0, task.num_cnt - removed)
    return removed


async def uncalled(
    session: AsyncSession,
    account_id: int,
    app_id: str,
    job_id: int | None,
    status: str | None,
    current: int,
    size: int,
) -> Page:
    """Numbers not yet finished (B.10), of one task or of all the app's, in task and list order."""
    await accounts.require_app(session, account_id, app_id)
    where: list[ColumnElement[bool]] = [
        Task.account_id == account_id,
        Task.app_id == app_id,
        Task.kind == TaskKind.AIVOICE,
        Task.status != TaskStatus.DELETED,
        Callee.state.in_([CalleeState.PENDING, CalleeState.DIALING]),
    ]
    if job_id is not None:
        await owned_task(session, account_id, app_id, job_id)
        where.append(Task.id == job_id)
    pending = Callee.state == CalleeState.PENDING
    if status == ai.NUMBER_IN_PROCESS:
        where.append(Callee.state == CalleeState.DIALING)
    elif status == ai.CAN_START:
        where += [pending, Task.status.in_(ai.RUNNING)]
    elif status == ai.CAN_NOT_START:
        where += [pending, Task.status.not_in(ai.RUNNING)]
    joined = select(Callee, Task.status).join(Task, Task.id == Callee.task_id).where(*where)
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(Callee)
            .join(Task, Task.id == Callee.task_id)
            .where(*where)
        )
        or 0
    )
    rows = (
        await session.execute(
            joined.order_by(Callee.task_id, Callee.seq).offset((current - 1) * size).limit(size)
        )
    ).all()
    records = [
        {
            "jobId": c.task_id,
            "customerPersonId": c.id,
            "customerPersonName": ai.name_of(c.info),
            "calledPhoneNumber": c.callee,
            "status": ai.number_status(c.state, task_st),
            "properties": ai.properties_of(c.info),
        }
        for c, task_st in rows
    ]
    return Page(records, total)
