"""Call records as the vendor shows them: the query JSON (ISO times), the push JSON (epoch ms),
and the two record queries."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Subquery, exists, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.domain.callresult import called_info_text
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import (
    CalleeState,
    RecordType,
    TaskKind,
    TerminationStyle,
    styled_termination_code,
)
from voxcast.services import overview, recordings
from voxcast.storage.models import Account, App, Callee, CallRecord, Task


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.6f}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def _common(rec: CallRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "voiceId": rec.voice_id,
        "type": rec.type,
        "callee": rec.callee,
        "displayNum": rec.display_num,
        "code": rec.code,
        "callDuration": rec.call_duration,
        "chargedDuration": rec.charged_duration,
        "ringDuration": rec.ring_duration,
        "billPeriod": rec.bill_period,
        "rate": _money(rec.rate),
        "baseCost": _money(rec.base_cost),
        "cost": _money(rec.cost),
        "currency": "USD",
        "terminationCode": rec.termination_code,
        "terminationReason": rec.termination_reason,
        "sipCode": rec.sip_code,
        "feedbackValue": rec.feedback_value,
        "calledInfo": rec.called_info,
        "voiceFileId": rec.voice_file_id,
        "outRecallCount": rec.out_recall_count,
    }
    if rec.type == RecordType.SIP_PHONE:  # a click-to-call's phone (recordSip, C.5)
        out["sipGroupName"] = rec.sip_group_name
        out["phoneName"] = rec.phone_name
    if rec.conversation is not None:  # a robot's call (batch push: scriptId, intent)
        out["scriptId"] = rec.conversation.get("script_id")
        out["intent"] = rec.conversation.get("intent_level")
    if rec.amd_result is not None:  # extensions, only on calls that asked for detection
        out["amdResult"] = rec.amd_result
        out["amdCause"] = rec.amd_cause
    return out


_TIMES = ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")


def _times(rec: CallRecord) -> tuple[datetime | None, ...]:
    return (rec.submit_time, rec.call_time, rec.ringing_time, rec.answer_time, rec.hangup_time)


def record_to_query_json(rec: CallRecord, style: str = TerminationStyle.SIP) -> dict[str, Any]:
    """recordGroup / recordGroupQuery: times as ISO-8601 strings with offset, terminationCode
    in the app's style."""
    out = _common(rec)
    out.update(zip(_TIMES, (_iso(t) for t in _times(rec)), strict=True))
    out["terminationCode"] = styled_termination_code(rec.termination_code, style)
    return out


async def termination_styles(session: AsyncSession, app_ids: set[str]) -> dict[str, str]:
    if not app_ids:
        return {}
    rows = await session.execute(
        select(App.app_id, App.termination_style).where(App.app_id.in_(app_ids))
    )
    return {app_id: style for app_id, style in rows.all()}


def record_to_push_json(rec: CallRecord, links: recordings.Links | None = None) -> dict[str, Any]:
    """The voice status report push (§4.1): times as epoch milliseconds; a recorded call's
    `recordingFileId` (the batch variant's) is a signed link to its recording (the stereo
    one when there is one)."""
    out = _common(rec)
    out.update(zip(_TIMES, (_ms(t) for t in _times(rec)), strict=True))
    recorded = rec.recording_full or rec.recording_customer
    if recorded and links is not None:
        out["recordingFileId"] = links.url(recorded)
        # extensions, as the AI call-record push names them: each file on its own
        out["fullAudioUrl"] = links.url(rec.recording_full)
        out["customerAudioUrl"] = links.url(rec.recording_customer)
    return out


MAX_WINDOW = timedelta(days=31)


def parse_time(
    value: str, field: str, zone: tzinfo = UTC, *, require_offset: bool = False
) -> datetime:
    """ISO-8601 with an offset ("2022-01-01T00:00:00+08:00"), or "yyyy-MM-dd HH:mm:ss" read in
    `zone`: the zone the endpoint shows its times in (UTC for voice records). Returns UTC.
    With `require_offset`, a time without one is a format error (-11)."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if require_offset and parsed.tzinfo is None:
            raise ValueError("no offset")
        # normalised here: an offset that pushes year 1 or 9999 out of range fails now, as a
        # format error, not later in the database driver
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(
            Code.TIME_FORMAT,
            f"{field}: {value[:64]!r} is not ISO-8601 such as 2022-01-01T00:00:00+08:00",
        ) from None


_VOICE_ID = re.compile(r"^[0-9]{1,32}$")


def looks_like_voice_id(value: str) -> bool:
    """Digits only, at most 32 of them (the column width): the shape of every issued voiceId."""
    return bool(_VOICE_ID.match(value))


def voice_id_of_path(raw: str) -> str:
    """A voiceId from a request path: anything but the shape of an issued one is -24 at once,
    before it reaches the database (where a NUL byte would be an error on PostgreSQL)."""
    voice_id = raw.strip()
    if not looks_like_voice_id(voice_id):
        raise ApiError(Code.NOT_FOUND, f"voiceId {voice_id[:40]!r} does not exist")
    return voice_id


def pending_record(callee: Callee, task: Task) -> CallRecord:
    """What a voiceId that has no record yet is answered with: submitTime set, the call times
    null, terminationCode "" and terminationReason "queued" ("calling" while dialed)."""
    return CallRecord(
        voice_id=callee.voice_id,
        account_id=task.account_id,
        app_id=task.app_id,
        task_id=task.id,
        type=RecordType.VERIFICATION_CODE if task.kind == TaskKind.CODE else RecordType.GROUP_CALL,
        callee=callee.callee,
        display_num=task.display_num,
        code="",
        submit_time=task.created_at,
        call_duration=0,
        ring_duration=0,
        charged_duration=0,
        bill_period="",
        rate=Decimal(0),
        base_cost=Decimal(0),
        cost=Decimal(0),
        termination_code="",
        termination_reason="calling" if callee.state == CalleeState.DIALING else "queued",
        sip_code="",
        feedback_value="-1",
        called_info=called_info_text(callee.info),
        voice_file_id=task.voice_file_id,
        out_recall_count=0,
    )


async def get_record(session: AsyncSession, account_id: int, voice_id: str) -> dict[str, Any]:
    """The record of one call; a call still queued answers with empty times and codes.

    A voiceId is issued at intake, and callers poll it right after sendCode, so a number that
    is accepted but not yet called (no CallRecord) is answered with success and the empty
    fields of `pending_record`; recordGroupQuery lists the same. Another account's voiceId is
    -24, as if it did not exist; so is a click-to-call's (sendSip), which recordSip answers.
    """
    rec = await session.get(CallRecord, voice_id)
    if rec is not None and rec.account_id == account_id and rec.type != RecordType.SIP_PHONE:
        styles = await termination_styles(session, {rec.app_id})
        return record_to_query_json(rec, styles.get(rec.app_id, TerminationStyle.SIP))
    queued = (
        await session.execute(
            select(Callee, Task)
            .join(Task, Task.id == Callee.task_id)
            .where(
                Callee.voice_id == voice_id,
                Task.account_id == account_id,
                Task.kind != TaskKind.SIP_CALL,
            )
        )
    ).first()
    if queued is None:
        raise ApiError(Code.NOT_FOUND, f"voiceId {voice_id} does not exist")
    callee, task = queued
    return record_to_query_json(pending_record(callee, task))


async def voice_id_page(
    session: AsyncSession, listed: Subquery, current: int, size: int
) -> tuple[list[str], int]:
    """One page of `listed` (columns `vid`, `at`), oldest first, and how many it holds."""
    total = int(await session.scalar(select(func.count()).select_from(listed)) or 0)
    page = list(
        (
            await session.scalars(
                select(listed.c.vid)
                .order_by(listed.c.at, listed.c.vid)
                .offset((current - 1) * size)
                .limit(size)
            )
        ).all()
    )
    return page, total


async def query_records(
    session: AsyncSession,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    current: int,
    size: int,
    task_id: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Every voiceId submitted in [start, end] (at most 31 days), oldest first, one page.

    Calls not yet made are listed too, as recordGroup/{voiceId} answers them (terminationReason
    "queued" or "calling", empty times): the window is on the submit time, so a client syncing
    window by window would otherwise never see a call submitted in one window and made later.
    """
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.strTime")
    if end - start > MAX_WINDOW:
        raise ApiError(Code.OUT_OF_TIME_RANGE, "params: the window is over 31 days")
    made = [
        CallRecord.account_id == account_id,
        CallRecord.type != RecordType.SIP_PHONE,  # recordSipQuery lists click-to-calls
        CallRecord.submit_time >= start,
        CallRecord.submit_time <= end,
    ]
    waiting = [
        Task.account_id == account_id,
        Task.kind != TaskKind.SIP_CALL,
        Task.created_at >= start,
        Task.created_at <= end,
        Callee.voice_id.is_not(None),
        ~exists().where(CallRecord.voice_id == Callee.voice_id),
    ]
    if task_id is not None:
        made.append(CallRecord.task_id == task_id)
        waiting.append(Task.id == task_id)
    listed = union_all(
        select(CallRecord.voice_id.label("vid"), CallRecord.submit_time.label("at")).where(*made),
        select(Callee.voice_id.label("vid"), Task.created_at.label("at"))
        .join(Task, Task.id == Callee.task_id)
        .where(*waiting),
    ).subquery()
    page, total = await voice_id_page(session, listed, current, size)
    if not page:
        return [], total
    found: dict[str, CallRecord] = {
        r.voice_id: r
        for r in (
            await session.scalars(select(CallRecord).where(CallRecord.voice_id.in_(page)))
        ).all()
    }
    missing = [vid for vid in page if vid not in found]
    if missing:
        for callee, task in (
            await session.execute(
                select(Callee, Task)
                .join(Task, Task.id == Callee.task_id)
                .where(Callee.voice_id.in_(missing), Task.account_id == account_id)
            )
        ).all():
            if callee.voice_id is not None:
                found[callee.voice_id] = pending_record(callee, task)
    styles = await termination_styles(session, {r.app_id for r in found.values()})
    return [
        record_to_query_json(found[vid], styles.get(found[vid].app_id, TerminationStyle.SIP))
        for vid in page
        if vid in found
    ], total


#: the fields of a recordGroupQuery record, in its order: the columns of `voxcast records --csv`
QUERY_COLUMNS = (
    "voiceId",
    "type",
    "callee",
    "displayNum",
    "code",
    "callDuration",
    "chargedDuration",
    "ringDuration",
    "billPeriod",
    "rate",
    "baseCost",
    "cost",
    "currency",
    "terminationCode",
    "terminationReason",
    "sipCode",
    "feedbackValue",
    "calledInfo",
    "voiceFileId",
    "outRecallCount",
    *_TIMES,
)


async def stream_task_records(
    sessions: async_sessionmaker[AsyncSession], task_id: int, *, page_size: int = 1000
) -> AsyncIterator[list[dict[str, Any]]]:
    """The call records of one task (any owner), newest first, as recordGroupQuery shows them,
    a page at a time (overview.stream_records: memory stays one page). -24 when there is no
    such task."""
    async with sessions() as session:
        task = await session.get(Task, task_id)
        if task is None:
            raise ApiError(Code.NOT_FOUND, f"task {task_id} does not exist")
        account = await session.get(Account, task.account_id)
        zone_name = account.timezone if account is not None else "UTC"
        styles = await termination_styles(session, {task.app_id})
    flt = overview.RecordFilter(task_id=task_id)
    async for page in overview.stream_records(
        sessions, task.account_id, zone_name, flt, page_size=page_size
    ):
        yield [record_to_query_json(r, styles.get(r.app_id, TerminationStyle.SIP)) for r in page]
