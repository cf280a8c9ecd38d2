"""Call-center preview tasks (api-catalog §5.3): callee lists uploaded as spreadsheets, tasks
made from them whose answered callees go straight to an agent group, resend, edit and query
with the preview status numbering."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast import compliance
from voxcast.config import Settings
from voxcast.domain.callee_sheet import SheetError, SheetResult
from voxcast.domain.codes import (
    FILE_FORMAT,
    FILE_TOO_LARGE,
    NO_NUMBERS,
    RESEND_STATUS,
    ApiError,
    Code,
)
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.domain.task_settings import from_params
from voxcast.domain.task_states import INITIAL, IllegalTransition, TaskEvent
from voxcast.services import accounts, agents, rates, sheet_reader
from voxcast.services.tasks import insert_numbers
from voxcast.storage import task_status
from voxcast.storage.models import CALLEES, AgentGroup, PreviewFile, Task

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
#: how many row errors an upload answers with (all of them are kept)
ERRORS_SHOWN = 100

#: our task status → the preview status numbering
PREVIEW_STATUS = {
    TaskStatus.WAITING: 1,  # enabled
    TaskStatus.CALLING: 11,
    TaskStatus.FINISHED: 12,
    TaskStatus.SUBMIT_FAILED: 13,
    TaskStatus.CANCELED: 14,
    TaskStatus.SUSPENDED: 15,
    TaskStatus.SUBMITTING: 16,
}
FROM_PREVIEW_STATUS = {v: k for k, v in PREVIEW_STATUS.items()}
AUTOMATIC, TO_AGENT = 0, 1
RESEND_FAILED, RESEND_NOT_CALLED, RESEND_ALL = 1, 2, 3


def _decode(file_b64: str) -> bytes:
    try:
        return base64.b64decode(file_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(Code.VALIDATION, "file: not valid base64") from None


def base_name(file_name: str) -> str:
    """What follows the last / or \\ of an uploaded list's name: a client may send its local
    path, and the name is echoed into `filePath`, where "../" must not appear. -22 when no
    name is left (or the name holds a NUL)."""
    if "\x00" in file_name:
        raise ApiError(Code.PARAMETER, "fileName: must not contain a NUL character")
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        raise ApiError(Code.PARAMETER, "fileName: must end with a file name, not a folder")
    return name


async def read_upload(file_name: str, file_b64: str, settings: Settings) -> SheetResult:
    """Decode and parse an uploaded list, in a child process under the configured time and
    memory limits (never in the event loop: one hostile file would stall every request)."""
    if len(file_b64) > MAX_FILE_BYTES * 4 // 3 + 4:
        raise ApiError(
            Code.TTS_REQUIRED, f"file: over {MAX_FILE_BYTES // 2**20} MB", title=FILE_TOO_LARGE
        )
    data = _decode(file_b64)
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(
            Code.TTS_REQUIRED, f"file: over {MAX_FILE_BYTES // 2**20} MB", title=FILE_TOO_LARGE
        )
    limits = sheet_reader.Limits(
        max_rows=MAX_ROWS,
        seconds=settings.preview_parse_seconds,
        memory_bytes=settings.preview_parse_memory_mb * 2**20,
    )
    try:
        return await sheet_reader.read_sheet(data, file_name, limits)
    except SheetError as err:
        code = Code(err.code)
        title = FILE_FORMAT if code is Code.TTS_LANGUAGE else None
        raise ApiError(code, err.reason, title=title) from None


async def upload(
    session: AsyncSession,
    account_id: int,
    file_name: str,
    sheet: SheetResult,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """Keep a parsed list for submitTask; lists older than `preview_file_days` are deleted."""
    await session.execute(
        delete(PreviewFile).where(
            PreviewFile.created_at < now - timedelta(days=settings.preview_file_days)
        )
    )
    record = PreviewFile(
        account_id=account_id,
        file_path="",
        file_name=file_name,
        rows=[[r.number, r.info] for r in sheet.numbers],
        duplicates=sheet.duplicates,
        errors=[{"row": e.row, "column": e.column, "reason": e.reason} for e in sheet.errors],
        created_at=now,
    )
    session.add(record)
    await session.flush()
    record.file_path = f"/cc/upload/{now:%Y%m%d%H%M%S}{record.id}_{file_name}"
    return {
        "filePath": record.file_path,
        "numberTotalCount": len(sheet.numbers),
        "numberSameCount": sheet.duplicates,
        # voxcast extensions: the rows refused, and where the numbers were read
        "errorCount": len(sheet.errors),
        "errors": record.errors[:ERRORS_SHOWN],
        "numberColumn": sheet.number_column,
        "calledInfoColumns": [h for h in sheet.headers if h != sheet.number_column],
    }


async def submit(
    session: AsyncSession, account_id: int, fields: dict[str, Any], now: datetime
) -> int:
    """A preview task from an uploaded list; its id."""
    found = await session.execute(
        select(PreviewFile).where(
            PreviewFile.account_id == account_id, PreviewFile.file_path == fields["filePath"]
        )
    )
    sheet = found.scalar_one_or_none()
    if sheet is None:
        raise ApiError(
            Code.NOT_FOUND, f"filePath: {fields['filePath']} was not uploaded or has expired"
        )
    groups = list(fields["voiceGroupId"])
    if fields["type"] == TO_AGENT and len(groups) != 1:
        raise ApiError(Code.PARAMETER, "voiceGroupId: exactly one group when type=1")
    first = await agents.transfer_group(session, account_id, groups[0], "voiceGroupId")
    for other in groups[1:]:
        await agents.transfer_group(session, account_id, other, "voiceGroupId")
    app_id = fields.get("appId") or first.app_id
    await accounts.require_app(session, account_id, app_id)
    await agents.transfer_group(session, account_id, first.id, "voiceGroupId", app_id)
    account = await accounts.get_account(session, account_id)
    rates.require_balance(account.balance)
    book = await rates.load_rate_book(session, account_id)
    numbers: list[tuple[str, dict[str, str] | None]] = [
        (str(n), {str(k): str(v) for k, v in (info or {}).items()} or None)
        for n, info in sheet.rows
    ]
    if not numbers:
        raise ApiError(
            Code.RESEND_STATE, "filePath: the list has no callable number", title=NO_NUMBERS
        )
    numbers, dnc_skipped = await compliance.screen(session, account_id, app_id, numbers)
    frozen = book.require_all((n for n, _ in numbers), "filePath")
    proportional = fields["type"] == TO_AGENT
    task = Task(
        account_id=account_id,
        app_id=app_id,
        kind=TaskKind.PREVIEW,
        task_name=None,
        status=INITIAL,
        status_reason="",
        num_cnt=len(numbers),
        dnc_skipped=dnc_skipped,
        display_num=fields.get("displayNum") or None,
        loop_count=1,
        max_calls=60,
        max_ringing_time=60,
        params={
            "toSeat": 1,
            "sipGroupId": first.id,
            "voiceGroupIds": groups,
            "toSeatType": 1,
            "outboundControl": 1 if proportional else 0,
            "calloutRate": int(fields.get("calloutRate") or 1),
            "previewType": fields["type"],
            "filePath": sheet.file_path,
            "fileName": fields["fileName"],
            "ccode": fields.get("ccode"),
            "remark": fields.get("remark"),
        },
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    await insert_numbers(session, task.id, numbers, frozen)
    return task.id


async def _task(session: AsyncSession, account_id: int, task_id: int) -> Task:
    task = await session.get(Task, task_id)
    if task is None or task.account_id != account_id or task.kind != TaskKind.PREVIEW:
        raise ApiError(Code.NOT_FOUND, f"taskId {task_id} does not exist")
    return task


async def resend(
    session: AsyncSession, account_id: int, fields: dict[str, Any], now: datetime
) -> None:
    """Call the task's numbers again (1 failed, 2 not called, 3 all): only once it is
    completed or canceled (-41); none to call is -42. voiceGroupId, type, calloutRate, ccode,
    remark and displayNum, when given, replace the task's."""
    task = await _task(session, account_id, fields["taskId"])
    try:
        # a later error rolls the move back
        task_status.move(task, TaskEvent.REOPEN, now)
    except IllegalTransition:
        raise ApiError(
            Code.TASK_NAME_EXISTS,
            "taskId: only a completed or canceled task is resent",
            title=RESEND_STATUS,
        ) from None
    # the overrides are checked before any number is reset
    params = dict(task.params or {})
    groups = list(fields.get("voiceGroupId") or [])
    stored = from_params(params).preview.kind
    preview_type = fields.get("type", TO_AGENT if stored is None else stored)
    if preview_type == TO_AGENT and len(groups) > 1:
        raise ApiError(Code.PARAMETER, "voiceGroupId: exactly one group when type=1")
    if groups:
        group = await agents.transfer_group(session, account_id, groups[0], "voiceGroupId")
        for other in groups[1:]:
            await agents.transfer_group(session, account_id, other, "voiceGroupId")
        params["sipGroupId"] = group.id
        params["voiceGroupIds"] = groups
    # type 1 hands answered callees to the group at calloutRate per free agent; type 0 is
    # paced by the account's limits alone
    params["previewType"] = preview_type
    params["outboundControl"] = 1 if preview_type == TO_AGENT else 0
    kind = fields["resendType"]
    which = select(CALLEES.c.id).where(CALLEES.c.task_id == task.id)
    if kind == RESEND_FAILED:
        which = which.where(CALLEES.c.success.is_(False), CALLEES.c.state != 0)
    elif kind == RESEND_NOT_CALLED:
        which = which.where(CALLEES.c.state == 0)
    rows = list((await session.execute(which.add_columns(CALLEES.c.callee))).all())
    if not rows:
        raise ApiError(Code.RESEND_STATE, "resendType: no number to call", title=NO_NUMBERS)
    # numbers put on a do-not-call list since are left as they were, not called again
    kept, skipped = await compliance.screen(
        session, account_id, task.app_id, [(str(n), int(i)) for i, n in rows]
    )
    ids = [i for _n, i in kept]
    task.dnc_skipped += skipped
    await session.execute(
        update(CALLEES)
        .where(CALLEES.c.id.in_(ids))
        .values(state=0, attempts=0, next_attempt_at=None, voice_id=None, success=None)
    )
    # their old records stay; the new calls get new voiceIds
    for key in ("calloutRate", "ccode", "remark"):
        if fields.get(key) is not None:
            params[key] = fields[key]
    task.params = params
    if fields.get("displayNum"):
        task.display_num = fields["displayNum"]


async def edit(
    session: AsyncSession, account_id: int, task_id: int, fields: dict[str, Any], now: datetime
) -> None:
    task = await _task(session, account_id, task_id)
    params = dict(task.params or {})
    for key in ("remark", "calloutRate"):
        if key in fields and fields[key] is not None:
            params[key] = fields[key]
    task.params = params
    task.updated_at = now


async def query(
    session: AsyncSession,
    account_id: int,
    *,
    start: datetime | None,
    end: datetime | None,
    task_id: int | None,
    statuses: list[int] | None,
    task_type: int | None,
    finished: int | None,
    group_ids: list[int] | None,
    current: int,
    size: int,
) -> tuple[list[dict[str, Any]], int]:
    where = [Task.account_id == account_id, Task.kind == TaskKind.PREVIEW]
    if start is not None:
        where.append(Task.created_at >= start)
    if end is not None:
        where.append(Task.created_at < end + timedelta(days=1))
    if task_id is not None:
        where.append(Task.id == task_id)
    if statuses:
        ours = [FROM_PREVIEW_STATUS[s] for s in statuses if s in FROM_PREVIEW_STATUS]
        where.append(Task.status.in_(ours))
    if finished is not None:
        done = Task.status.in_([TaskStatus.FINISHED, TaskStatus.CANCELED])
        where.append(done if finished == 1 else ~done)
    tasks = list((await session.scalars(select(Task).where(*where).order_by(Task.id.desc()))).all())
    found = [(t, from_params(t.params)) for t in tasks]
    if task_type is not None:
        found = [(t, s) for t, s in found if s.preview.kind == task_type]
    if group_ids:
        wanted = set(group_ids)
        found = [(t, s) for t, s in found if wanted & set(s.preview.group_ids)]
    total = len(found)
    page = found[(current - 1) * size : current * size]
    remaining = await _remaining(session, [t.id for t, _ in page])
    names = await _group_names(session, {g for _, s in page for g in s.preview.group_ids})
    return [
        {
            "taskId": t.id,
            "voiceGroupId": list(s.preview.group_ids),
            "seatGroupName": ",".join(names.get(g, "") for g in s.preview.group_ids),
            "remainCount": remaining.get(t.id, 0),
            "totalCount": t.num_cnt,
            "remark": s.preview.remark,
            "ccode": s.preview.ccode,
            "codeName": None,
            "taskStatus": PREVIEW_STATUS.get(TaskStatus(t.status), t.status),
            "taskType": s.preview.kind,
            "finishFlag": 1 if t.status in (TaskStatus.FINISHED, TaskStatus.CANCELED) else 0,
            "fileName": s.preview.file_name,
            "calloutRate": s.transfer.callout_rate,
        }
        for t, s in page
    ], total


async def _remaining(session: AsyncSession, task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    rows = await session.execute(
        select(CALLEES.c.task_id, func.count())
        .where(CALLEES.c.task_id.in_(task_ids), CALLEES.c.state == 0)
        .group_by(CALLEES.c.task_id)
    )
    return {int(t): int(n) for t, n in rows}


async def _group_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(AgentGroup.id, AgentGroup.group_name).where(AgentGroup.id.in_(ids))
    )
    return {int(i): str(n) for i, n in rows}
