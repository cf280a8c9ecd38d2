"""Call-center records (api-catalog §4.3, §3 `/cc/record/query`) and the agent ringing push
(§4.2): the rows written when a transfer task's call ends, their JSON, and the query.
Times are "yyyy-MM-dd HH:mm:ss" in UTC+8, as the vendor documents for these payloads, and a
query window written that way is read in UTC+8 too: one zone for what is shown and filtered."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import callresult
from voxcast.domain.callresult import CallFacts
from voxcast.domain.codes import ApiError, Code
from voxcast.ports import ReservedAgent
from voxcast.storage.models import CcRecord

#: the zone of every time shown by these records and of a query window without an offset
VENDOR_ZONE = timezone(timedelta(hours=8))
MAX_WINDOW = timedelta(days=31)
#: callType: a group call handed to an agent; an outgoing call (a click-to-call)
GROUP_CALL_TO_AGENT, OUTGOING = 1, 3
#: the ringing push's `type` (§4.2): an agent rung for a group call's transfer, for a
#: call-center call (an inbound call to an agent group: the vendor names no other type for
#: it), and a phone called via the API (click-to-call)
RING_GROUP_CALL, RING_CALL_CENTER, RING_API_CALL = 1, 2, 3


def vendor_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(VENDOR_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def record_row(
    *,
    voice_id: str,
    account_id: int,
    app_id: str,
    task_id: int,
    group_id: int | None,
    called: str,
    called_info: str | None,
    caller: str | None,
    ccode: str | None,
    facts: CallFacts,
    cost: Decimal,
) -> dict[str, Any]:
    agent = facts.agent
    return {
        "call_session_id": voice_id,
        "account_id": account_id,
        "app_id": app_id,
        "task_id": task_id,
        "voice_id": voice_id,
        "group_id": group_id,
        "seat_id": agent.key_id if agent else None,
        "called": called,
        "called_info": called_info,
        "caller": caller,
        "ccode": ccode,
        "agent_name": agent.name if agent else None,
        "agent_group_name": agent.group_name if agent else None,
        "call_duration": callresult.cc_duration(facts),
        "call_type": GROUP_CALL_TO_AGENT,
        "hangup_code": facts.sip_code or int(facts.termination_code),
        "hangup_reason": callresult.hangup_reason(facts),
        "hanging_direction": callresult.hanging_direction(facts),
        "no_answer_agents": list(facts.no_answer_agents),
        "base_cost": cost,
        "cost": cost,
        "abandoned": callresult.abandoned(facts),
        "call_start_time": facts.call_time,
        "answer_time": facts.answer_time,
        "transfer_time": facts.transfer_time,
        "agent_answer_time": facts.agent_answer_time,
        "call_end_time": facts.hangup_time,
    }


def record_json(row: CcRecord | dict[str, Any]) -> dict[str, Any]:
    """The push (§4.3) and query body of one record."""
    r = row if isinstance(row, dict) else {c: getattr(row, c) for c in _COLUMNS}
    return {
        # set only for calls placed through the call-phone API (sendSip): its voiceId
        "callId": r["voice_id"] if r["call_type"] == OUTGOING else None,
        "callSessionId": r["call_session_id"],
        "called": r["called"],
        "calledInfo": r["called_info"],
        "caller": r["caller"],
        "ccode": r["ccode"],
        "ccodeName": None,
        "agentName": r["agent_name"],
        "agentGroupName": r["agent_group_name"],
        "agentAccount": r["agent_name"],
        "callDuration": r["call_duration"],
        "callType": r["call_type"],
        "hangupCode": r["hangup_code"],
        "hangupReason": r["hangup_reason"],
        "hangingDirection": r["hanging_direction"],
        "labels": [],
        "baseCost": f"{r['base_cost']:.6f}",
        "cost": f"{r['cost']:.6f}",
        "remark": None,
        "callStartTime": vendor_time(r["call_start_time"]),
        "answerTime": vendor_time(r["agent_answer_time"] or r["answer_time"]),
        "callEndTime": vendor_time(r["call_end_time"]),
        "voiceUrl": None,
        # voxcast extensions: the task, whether the callee gave up waiting, who did not answer
        "taskId": r["task_id"],
        "abandoned": r["abandoned"],
        "noAnswerSipList": r["no_answer_agents"],
    }


_COLUMNS = [c.name for c in CcRecord.__table__.columns]


def ringing_json(
    *,
    voice_id: str,
    called: str,
    called_info: str | None,
    task_id: int | None,
    agent: ReservedAgent,
    no_answer: list[str],
    at: datetime,
    ring_type: int = RING_GROUP_CALL,
    caller: str | None = None,
) -> list[dict[str, Any]]:
    """The agent ringing push (§4.2): always a JSON array. An inbound call (`ring_type` 2)
    has no task, and carries the voxcast extension `caller`: who is calling."""
    body: dict[str, Any] = {
        "callId": voice_id,
        "called": called,
        "noAnswerSipList": list(no_answer),
        "calledInfo": called_info,
        "type": ring_type,
        "sipAccount": agent.name,
        "callinEventTime": vendor_time(at),
        "taskId": task_id,
        "seatGroupName": agent.group_name,
    }
    if ring_type == RING_CALL_CENTER:
        body["caller"] = caller
    return [body]


async def query(
    session: AsyncSession,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    group_id: int | None = None,
    group_name: str | None = None,
    agent_ids: list[int] | None = None,
    agent_names: list[str] | None = None,
    call_types: list[int] | None = None,
    hangup_reasons: list[int] | None = None,
    number: str | None = None,
    directions: list[int] | None = None,
    ccodes: list[str] | None = None,
    labels: list[str] | None = None,
    current: int = 1,
    size: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.startTime")
    if end - start > MAX_WINDOW:
        raise ApiError(Code.OUT_OF_TIME_RANGE, "params: startTime to endTime spans over 31 days")
    where = [
        CcRecord.account_id == account_id,
        CcRecord.call_start_time >= start,
        CcRecord.call_start_time <= end,
    ]
    if group_id is not None:
        where.append(CcRecord.group_id == group_id)
    if group_name:
        where.append(CcRecord.agent_group_name == group_name)
    if agent_ids:
        where.append(CcRecord.seat_id.in_(agent_ids))
    if agent_names:
        where.append(CcRecord.agent_name.in_(agent_names))
    if call_types:
        where.append(CcRecord.call_type.in_(call_types))
    if hangup_reasons:
        where.append(CcRecord.hangup_reason.in_(hangup_reasons))
    if number:
        where.append(or_(CcRecord.called == number, CcRecord.caller == number))
    if directions:
        where.append(CcRecord.hanging_direction.in_(directions))
    if ccodes:
        where.append(CcRecord.ccode.in_(ccodes))
    if labels:
        where.append(false())  # voxcast records carry no labels yet: none has these
    total = int(await session.scalar(select(func.count()).select_from(CcRecord).where(*where)) or 0)
    rows = await session.scalars(
        select(CcRecord)
        .where(*where)
        .order_by(CcRecord.call_start_time.desc(), CcRecord.call_session_id)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [record_json(r) for r in rows], total
