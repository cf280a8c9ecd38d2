"""Call records as the vendor shows them: the query JSON (ISO times), the push JSON (epoch ms),
and the two record queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.callresult import called_info_text
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import CalleeState, RecordType, TaskKind
from voxcast.storage.models import Callee, CallRecord, Task


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.6f}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def _common(rec: CallRecord) -> dict[str, Any]:
    return {
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


_TIMES = ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")


def _times(rec: CallRecord) -> tuple[datetime | None, ...]:
    return (rec.submit_time, rec.call_time, rec.ringing_time, rec.answer_time, rec.hangup_time)


def record_to_query_json(rec: CallRecord) -> dict[str, Any]:
    """recordGroup / recordGroupQuery: times as ISO-8601 strings with offset."""
    out = _common(rec)
    out.update(zip(_TIMES, (_iso(t) for t in _times(rec)), strict=True))
    return out


def record_to_push_json(rec: CallRecord) -> dict[str, Any]:
    """The voice status report push (§4.1): times as epoch milliseconds."""
    out = _common(rec)
    out.update(zip(_TIMES, (_ms(t) for t in _times(rec)), strict=True))
    return out


MAX_WINDOW = timedelta(days=31)


def parse_time(value: str, field: str, zone: tzinfo = UTC) -> datetime:
    """ISO-8601 with an offset ("2022-01-01T00:00:00+08:00"), or "yyyy-MM-dd HH:mm:ss" read in
    `zone`: the zone the endpoint shows its times in (UTC for voice records). Returns UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
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


async def get_record(session: AsyncSession, account_id: int, voice_id: str) -> dict[str, Any]:
    """The record of one call; a call still queued answers with empty times and codes.

    A voiceId is issued at intake, and callers poll it right after sendCode, so a number that
    is accepted but not yet called (no CallRecord) is answered with success: submitTime set,
    the call times null, terminationCode "" and terminationReason "queued" ("calling" while
    the dialer holds it). Another account's voiceId is -24, as if it did not exist.
    """
    rec = await session.get(CallRecord, voice_id)
    if rec is not None and rec.account_id == account_id:
        return record_to_query_json(rec)
    queued = (
        await session.execute(
            select(Callee, Task)
            .join(Task, Task.id == Callee.task_id)
            .where(Callee.voice_id == voice_id, Task.account_id == account_id)
        )
    ).first()
    if queued is None:
        raise ApiError(Code.NOT_FOUND, f"voiceId {voice_id} does not exist")
    callee, task = queued
    pending = CallRecord(
        voice_id=voice_id,
        account_id=account_id,
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
    return record_to_query_json(pending)


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
    """Records submitted in [start, end] (at most 31 days), oldest first, one page."""
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.strTime")
    if end - start > MAX_WINDOW:
        raise ApiError(Code.OUT_OF_TIME_RANGE, "params: the window is over 31 days")
    where = [
        CallRecord.account_id == account_id,
        CallRecord.submit_time >= start,
        CallRecord.submit_time <= end,
    ]
    if task_id is not None:
        where.append(CallRecord.task_id == task_id)
    total = int(
        await session.scalar(select(func.count()).select_from(CallRecord).where(*where)) or 0
    )
    rows = await session.scalars(
        select(CallRecord)
        .where(*where)
        .order_by(CallRecord.submit_time, CallRecord.voice_id)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [record_to_query_json(r) for r in rows.all()], total
