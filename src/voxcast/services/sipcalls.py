"""Click-to-call (voice/sendSip) and its records (voice/recordSip, voice/recordSipQuery).

A SIP phone is a call-center agent: its account is the agent's name, its phone name the agent's
petName, its group the agent group. sendSip reserves the agent (busy until the call's end) and
stores a task of kind SIP_CALL with its one callee; the dialer rings the phone, then the callee
(dialer/clicktocall.py), and the recorder writes the record (type 3) like any call's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import callresult, ids
from voxcast.domain.callresult import CallFacts
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import CalleeState, RecordType, TaskKind, TerminationStyle
from voxcast.domain.task_settings import PhoneSettings, from_params
from voxcast.domain.task_states import INITIAL
from voxcast.services import accounts, ccrecords, rates, records
from voxcast.services.agents import AgentStatus
from voxcast.storage.models import Account, Agent, AgentGroup, Callee, CallRecord, Task

#: how long a click-to-call's conversation may last, as a transferred call's
MAX_TALK_S = 3600
#: how long the callee's phone rings (sendSip has no maxRingingTime)
MAX_RINGING_S = 60


@dataclass(frozen=True)
class SipCall:
    """A validated sendSip request."""

    app_id: str
    account: str
    callee: str
    display_num: str | None
    called_info: str | None


async def submit(
    session: AsyncSession, account: Account, req: SipCall, now: datetime, *, virtual: bool
) -> str:
    """Check the app (-32), the phone (-24), the rate (-26), the balance (-10) and that the
    phone is idle (-68); reserve the phone and store the call. Returns its voiceId.

    `virtual`: the account's calls go to the sandbox, whose phones need not be registered
    (an offline agent is free, as the sandbox's transfers treat it)."""
    await accounts.require_app(session, account.id, req.app_id)
    found = (
        await session.execute(
            select(Agent, AgentGroup.group_name)
            .join(AgentGroup, AgentGroup.id == Agent.group_id)
            .where(
                Agent.name == req.account,
                Agent.account_id == account.id,
                Agent.app_id == req.app_id,
            )
        )
    ).first()
    if found is None:
        raise ApiError(Code.NOT_FOUND, f"account {req.account[:64]} does not exist")
    agent, group_name = found
    book = await rates.load_rate_book(session, account.id)
    rate = book.lookup(req.callee)
    if rate is None:
        raise ApiError(Code.FEE, f"callee: no rate for destination {req.callee}")
    fresh = await session.scalar(select(Account.balance).where(Account.id == account.id))
    rates.require_balance(fresh if fresh is not None else account.balance)
    free = (AgentStatus.IDLE, AgentStatus.OFFLINE) if virtual else (AgentStatus.IDLE,)
    reserve = (
        update(Agent)
        .where(Agent.id == agent.id, Agent.enable.is_(True), Agent.status.in_(free))
        .values(status=AgentStatus.BUSY, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not virtual:
        reserve = reserve.where(Agent.contact.is_not(None))
    # the status guard makes the reservation atomic: of two sendSips at once, one gets -68
    took = await session.execute(reserve)
    if not took.rowcount:  # type: ignore[attr-defined]
        raise ApiError(Code.SIP_NOT_IDLE, f"account {agent.name}: {_why_not_idle(agent, virtual)}")
    phone_name = agent.pet_name or agent.name
    task = Task(
        account_id=account.id,
        app_id=req.app_id,
        kind=TaskKind.SIP_CALL,
        task_name=None,
        status=INITIAL,
        display_num=req.display_num or agent.display_num or None,
        max_calls=MAX_TALK_S,
        max_ringing_time=MAX_RINGING_S,
        num_cnt=1,
        params={
            "account": agent.name,
            "seatId": agent.id,
            "sipGroupName": group_name,
            "phoneName": phone_name,
            **({"calledInfo": req.called_info} if req.called_info else {}),
        },
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    callee = Callee(
        task_id=task.id,
        seq=1,
        callee=req.callee,
        info={"calledInfo": req.called_info} if req.called_info else None,
        state=CalleeState.PENDING,
        attempts=0,
        rate=rate,
    )
    session.add(callee)
    await session.flush()
    callee.voice_id = ids.voice_id(now, callee.id)
    return callee.voice_id


def _why_not_idle(agent: Agent, virtual: bool) -> str:
    if not agent.enable:
        return "the phone is disabled"
    if agent.status == AgentStatus.OFFLINE or (not virtual and agent.contact is None):
        return "the phone is not registered"
    names = {
        AgentStatus.BUSY: "busy",
        AgentStatus.WRAP_UP: "in wrap-up",
        AgentStatus.BREAK: "on break",
    }
    return f"the phone is {names.get(agent.status, 'not idle')}"


# -- what the dialer's recorder writes ---------------------------------------------------------


def record_names(phone: PhoneSettings | None) -> dict[str, str | None]:
    """The record's sipGroupName and phoneName, as they were when the call was placed."""
    return {
        "sip_group_name": phone.group_name if phone is not None else None,
        "phone_name": phone.phone_name if phone is not None else None,
    }


def cc_row(
    *,
    voice_id: str,
    account_id: int,
    app_id: str,
    task_id: int,
    phone: PhoneSettings,
    called: str,
    called_info: str | None,
    caller: str | None,
    ccode: str | None,
    facts: CallFacts,
    cost: Decimal,
) -> dict[str, Any]:
    """The call-center record (§4.3) of a click-to-call: an outgoing call (callType 3) of the
    phone's agent, whose push carries callId = the voiceId sendSip returned."""
    if facts.answered:
        reason = callresult.NORMAL_END
    elif facts.agent is None:
        reason = callresult.NOT_ANSWERED  # the phone itself did not answer
    else:
        reason = callresult.hangup_reason(CallFacts(facts.call_time, sip_code=facts.sip_code))
    return {
        "call_session_id": voice_id,
        "account_id": account_id,
        "app_id": app_id,
        "task_id": task_id,
        "voice_id": voice_id,
        "group_id": None,
        "seat_id": phone.seat_id,
        "called": called,
        "called_info": called_info,
        "caller": caller,
        "ccode": ccode,
        "agent_name": phone.account,
        "agent_group_name": phone.group_name,
        "call_duration": facts.call_duration,
        "call_type": ccrecords.OUTGOING,
        "hangup_code": facts.sip_code or int(facts.termination_code),
        "hangup_reason": reason,
        "hanging_direction": callresult.hanging_direction(facts),
        "no_answer_agents": [],
        "base_cost": cost,
        "cost": cost,
        "abandoned": False,
        "call_start_time": facts.call_time,
        "answer_time": facts.answer_time,
        "transfer_time": None,
        # the call is answered when the callee answers (the phone answering only starts it)
        "agent_answer_time": None,
        "call_end_time": facts.hangup_time,
    }


# -- recordSip / recordSipQuery ----------------------------------------------------------------


def record_json(rec: CallRecord, style: str = TerminationStyle.SIP) -> dict[str, Any]:
    """recordSip's fields (C.5): a voice record's, with the phone's group and name."""
    out = records.record_to_query_json(rec, style)
    out["recordingFileId"] = None
    return out


def _pending(callee: Callee, task: Task) -> CallRecord:
    """A call not made yet: recordGroup's pending shape, with the phone it is placed from."""
    rec = records.pending_record(callee, task)
    rec.type = RecordType.SIP_PHONE
    phone = from_params(task.params).phone
    rec.sip_group_name = phone.group_name
    rec.phone_name = phone.phone_name
    return rec


async def get_record(session: AsyncSession, account_id: int, voice_id: str) -> dict[str, Any]:
    """One click-to-call's record; queued or in progress, the pending shape; else -24 (also
    another account's voiceId, and a voiceId of another kind of call)."""
    rec = await session.get(CallRecord, voice_id)
    if rec is not None and rec.account_id == account_id and rec.type == RecordType.SIP_PHONE:
        return record_json(rec, await _style(session, rec.app_id))
    queued = (
        await session.execute(
            select(Callee, Task)
            .join(Task, Task.id == Callee.task_id)
            .where(
                Callee.voice_id == voice_id,
                Task.account_id == account_id,
                Task.kind == TaskKind.SIP_CALL,
            )
        )
    ).first()
    if rec is not None or queued is None:
        raise ApiError(Code.NOT_FOUND, f"voiceId {voice_id} does not exist")
    return record_json(_pending(*queued))


async def _style(session: AsyncSession, app_id: str) -> str:
    styles = await records.termination_styles(session, {app_id})
    return styles.get(app_id, TerminationStyle.SIP)


async def query_records(
    session: AsyncSession,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    current: int,
    size: int,
    group_name: str | None = None,
    phone_name: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Click-to-calls submitted in [start, end] (at most 31 days), oldest first, one page;
    calls not made yet are listed too, as recordSip answers them (see records.query_records)."""
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.strTime")
    if end - start > records.MAX_WINDOW:
        raise ApiError(Code.OUT_OF_TIME_RANGE, "params: the window is over 31 days")
    made = [
        CallRecord.account_id == account_id,
        CallRecord.type == RecordType.SIP_PHONE,
        CallRecord.submit_time >= start,
        CallRecord.submit_time <= end,
    ]
    if group_name:
        made.append(CallRecord.sip_group_name == group_name)
    if phone_name:
        made.append(CallRecord.phone_name == phone_name)
    # calls without a record yet: at most one a phone (a phone is busy until its record is
    # written), so few enough to match the names on the task in Python
    waiting_rows = (
        await session.execute(
            select(Callee, Task)
            .join(Task, Task.id == Callee.task_id)
            .where(
                Task.account_id == account_id,
                Task.kind == TaskKind.SIP_CALL,
                Task.created_at >= start,
                Task.created_at <= end,
                Callee.state.in_([CalleeState.PENDING, CalleeState.DIALING]),
            )
        )
    ).all()
    waiting: dict[str, CallRecord] = {}
    for callee, task in waiting_rows:
        pending = _pending(callee, task)
        if group_name and pending.sip_group_name != group_name:
            continue
        if phone_name and pending.phone_name != phone_name:
            continue
        if callee.voice_id is not None:
            waiting[callee.voice_id] = pending
    made_ids = select(CallRecord.voice_id.label("vid"), CallRecord.submit_time.label("at")).where(
        *made
    )
    listed = made_ids.subquery()
    if waiting:
        # a call whose record was written since `waiting` was read is listed once, as made
        recorded = select(CallRecord.voice_id).where(CallRecord.voice_id.in_(list(waiting)))
        waiting_ids = (
            select(Callee.voice_id.label("vid"), Task.created_at.label("at"))
            .join(Task, Task.id == Callee.task_id)
            .where(
                Callee.voice_id.in_(list(waiting)),
                Callee.voice_id.not_in(recorded),
                Task.account_id == account_id,
            )
        )
        listed = union_all(made_ids, waiting_ids).subquery()
    page, total = await records.voice_id_page(session, listed, current, size)
    # a record wins over the waiting call it became
    found: dict[str, CallRecord] = {
        rec.voice_id: rec
        for rec in (
            await session.scalars(select(CallRecord).where(CallRecord.voice_id.in_(page)))
        ).all()
    }
    for vid in page:
        if vid not in found and vid in waiting:
            found[vid] = waiting[vid]
    styles = await records.termination_styles(session, {r.app_id for r in found.values()})
    return [
        record_json(found[vid], styles.get(found[vid].app_id, TerminationStyle.SIP))
        for vid in page
        if vid in found
    ], total
