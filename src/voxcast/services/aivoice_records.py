"""`aivoice/recordQuery` (spec supplement B.11): the AI calls of an app's AiVoice tasks in a
time range, with every field voxcast can fill from the call record, its task and its customer;
the others are null."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import aivoice_tasks as ai
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskKind
from voxcast.domain.schedule import SEND_TIME_FORMAT, parse_send_time, zone
from voxcast.services import accounts, recordings
from voxcast.services.aivoice_tasks import Page
from voxcast.storage.models import Account, Callee, CallRecord, Task

#: the longest window one query covers, as the voice record queries allow
MAX_WINDOW = timedelta(days=31)


def _when(value: str, field: str, zone_name: str) -> datetime:
    try:
        return parse_send_time(value, zone_name)
    except ValueError:
        raise ApiError(Code.PARAMETER, f"params.{field}: must be yyyy-MM-dd HH:mm:ss") from None


def _fmt(value: datetime | None, zone_name: str) -> str | None:
    return value.astimezone(zone(zone_name)).strftime(SEND_TIME_FORMAT) if value else None


#: `hangupBy` of the AI call record: who ended the call (the vendor names no values)
HANGUP_BY = {"callee": "CUSTOMER", "us": "ROBOT", "agent": "AGENT", "network": "SYSTEM"}


def _conversation(rec: CallRecord) -> dict[str, Any]:
    return rec.conversation or {}


def _result_status(rec: CallRecord) -> str:
    sip = int(rec.sip_code) if rec.sip_code.isdigit() else 0
    return ai.call_result(rec.answer_time is not None, sip, rec.conversation)


def _attempt(rec: CallRecord, callee: Callee | None) -> int:
    """Which attempt at its number the call was (1 the first): as recorded with the call; a
    record written before attempts were recorded takes its callee's count."""
    if rec.attempt is not None:
        return rec.attempt
    return callee.attempts if callee is not None else 1


def _hangup_by(rec: CallRecord) -> str | None:
    by = _conversation(rec).get("hangup_by")
    return HANGUP_BY.get(str(by)) if by and rec.answer_time is not None else None


def call_details(rec: CallRecord) -> list[dict[str, Any]]:
    """`callDetailList`: the transcript, each line with its ms offsets from the answer (the
    recording's start)."""
    return [
        {
            "callDetailId": i,
            "text": turn.get("text", ""),
            "type": turn.get("speaker"),
            "startOffset": turn.get("start_ms"),
            "endOffset": turn.get("end_ms"),
        }
        for i, turn in enumerate(_conversation(rec).get("turns", []), start=1)
    ]


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _audio(rec: CallRecord, links: recordings.Links | None) -> dict[str, str | None]:
    """`fullAudioUrl` and `customerAudioUrl`: signed links to a recorded call's files."""
    if links is None:
        return {"fullAudioUrl": None, "customerAudioUrl": None}
    return {
        "fullAudioUrl": links.url(rec.recording_full),
        "customerAudioUrl": links.url(rec.recording_customer),
    }


def call_record_push(
    rec: CallRecord, task: Task, callee: Callee | None, links: recordings.Links | None = None
) -> dict[str, Any]:
    """The AI call-record push (`pushCallRecord`, supplement B.12) of one AiVoice call: every
    field voxcast can fill, the others null; times in epoch seconds."""
    params = task.params or {}
    info = callee.info if callee is not None else None
    conversation = _conversation(rec)
    line = params.get("jobPhoneNumberId")
    tags = list(conversation.get("tags", []))
    return {
        "callId": rec.voice_id,
        "appId": rec.app_id,
        "robotCallJobId": task.id,
        "dialogFlowId": task.script_id,
        "tenantPhoneNumberId": None if line is None else int(line),
        "calledPhoneNumber": rec.callee,
        "startTime": _epoch(rec.call_time),
        "endTime": _epoch(rec.hangup_time),
        "resultStatus": _result_status(rec),
        "hangupBy": _hangup_by(rec),
        "customerConcern": [],
        "analysisBasis": None,
        "chatDuration": rec.call_duration,
        "billingTime": rec.charged_duration,
        "pay": None if rec.cost is None else f"{rec.cost:f}",
        "chatRound": conversation.get("chat_rounds", 0),
        "attributes": [],
        "properties": ai.properties_of(info),
        "intentLevelDetailName": conversation.get("intent_level"),
        "callRecordTagIds": [],
        "callRecordTagNames": tags,
        "customerTagIds": [],
        "customerTagNames": tags,
        **_audio(rec, links),
        "dynamicProperties": {},
        "callDetailList": call_details(rec),
        "callCount": _attempt(rec, callee),
        "redialTimes": max(0, _attempt(rec, callee) - 1),
    }


def _record(
    rec: CallRecord,
    task: Task,
    callee: Callee | None,
    zone_name: str,
    links: recordings.Links | None,
) -> dict[str, Any]:
    params = task.params or {}
    info = callee.info if callee is not None else None
    props = ai.properties_of(info)
    conversation = _conversation(rec)
    line = params.get("jobPhoneNumberId")
    return {
        "keyId": rec.voice_id,
        "appId": rec.app_id,
        "callId": rec.voice_id,
        "callRecordId": rec.voice_id,
        "robotCount": params.get("robotCount"),
        "callJobId": str(task.id),
        "dialogFlowId": None if task.script_id is None else str(task.script_id),
        "tenantPhoneNumberId": None if line is None else str(line),
        "calledPhoneNumber": rec.callee,
        "hangupBy": _hangup_by(rec),
        "customerPersonName": ai.name_of(info),
        "analysisBasis": None,
        "resultStatus": _result_status(rec),
        "startTime": _fmt(rec.call_time, zone_name),
        "endTime": _fmt(rec.hangup_time, zone_name),
        "chatDuration": str(rec.call_duration),
        "chargedDuration": str(rec.charged_duration),
        "chatRound": str(conversation["chat_rounds"]) if rec.answer_time and conversation else None,
        "attributes": None,
        "customerConcern": None,
        "properties": json.dumps(props, ensure_ascii=False, separators=(",", ":")),
        "intentLevelDetailName": conversation.get("intent_level"),
        **_audio(rec, links),
        "dynamicProperties": None,
        "redialTimes": str(max(0, _attempt(rec, callee) - 1)),
    }


async def call_records(
    session: AsyncSession,
    account: Account,
    app_id: str,
    start_text: str,
    end_text: str,
    current: int,
    size: int,
    links: recordings.Links | None = None,
) -> Page:
    """The app's AiVoice calls whose dialing started in [startTime, endTime] (the account's
    time zone, at most 31 days), oldest first; a task deleted since keeps its records."""
    await accounts.require_app(session, account.id, app_id)
    start = _when(start_text, "startTime", account.timezone)
    end = _when(end_text, "endTime", account.timezone)
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.startTime")
    if end - start > MAX_WINDOW:
        raise ApiError(Code.PARAMETER, "params: the window is over 31 days")
    started = func.coalesce(CallRecord.call_time, CallRecord.submit_time)
    where: list[ColumnElement[bool]] = [
        CallRecord.account_id == account.id,
        CallRecord.app_id == app_id,
        Task.kind == TaskKind.AIVOICE,
        started >= start,
        started <= end,
    ]
    base = select(CallRecord, Task, Callee).join(Task, Task.id == CallRecord.task_id)
    base = base.outerjoin(Callee, Callee.id == CallRecord.callee_id).where(*where)
    total = int(
        await session.scalar(
            select(func.count())
            .select_from(CallRecord)
            .join(Task, Task.id == CallRecord.task_id)
            .where(*where)
        )
        or 0
    )
    rows = (
        await session.execute(
            base.order_by(started, CallRecord.voice_id).offset((current - 1) * size).limit(size)
        )
    ).all()
    return Page([_record(r, t, c, account.timezone, links) for r, t, c in rows], total)
