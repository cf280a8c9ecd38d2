"""The pushes of a call, queued from its rows: each kind's payload is derived here, and only
here, whichever room wrote the row (the dialer's recorder and ringing, the inbound call
handler). A push is queued only when the app has the kind's URL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.enums import TaskKind
from voxcast.ports import ReservedAgent
from voxcast.services import aivoice_records, ccrecords, recordings, sms
from voxcast.services.records import record_to_push_json
from voxcast.storage.models import App, Callee, CallRecord, Task
from voxcast.webhooks import outbox


async def _urls(session: AsyncSession, column: Any, app_ids: set[str]) -> dict[str, str | None]:
    if not app_ids:
        return {}
    rows = await session.execute(select(App.app_id, column).where(App.app_id.in_(app_ids)))
    return {str(app_id): url for app_id, url in rows.all()}


async def queue_voice_reports(
    session: AsyncSession,
    records: Sequence[dict[str, Any]],
    now: datetime,
    *,
    due: datetime,
    links: recordings.Links | None = None,
) -> None:
    """The call record push (§ voice report) of each new `call_records` row (as inserted); an
    AiVoice task's call gets the AI call-record push (`pushCallRecord`) instead. A recorded
    call's push links its recordings with `links`."""
    urls = await _urls(session, App.push_url, {r["app_id"] for r in records})
    wanted = [r for r in records if urls.get(r["app_id"])]
    robots = await _aivoice_tasks(session, {r["task_id"] for r in wanted if r.get("conversation")})
    callees = await _callees(session, [r["callee_id"] for r in wanted if r["task_id"] in robots])
    items = []
    for r in wanted:
        rec = CallRecord(**r)
        task = robots.get(r["task_id"])
        if task is None:
            items.append(
                outbox.PushItem(
                    r["account_id"],
                    r["app_id"],
                    outbox.VOICE_REPORT,
                    r["voice_id"],
                    record_to_push_json(rec, links),
                )
            )
        else:
            callee = callees.get(r["callee_id"])
            payload = aivoice_records.call_record_push(rec, task, callee, links)
            items.append(
                outbox.PushItem(
                    r["account_id"], r["app_id"], outbox.AI_CALL_RECORD, r["voice_id"], payload
                )
            )
    await outbox.enqueue_many(session, items, now, due=due)


async def _aivoice_tasks(session: AsyncSession, task_ids: set[int]) -> dict[int, Task]:
    if not task_ids:
        return {}
    rows = await session.scalars(
        select(Task).where(Task.id.in_(task_ids), Task.kind == TaskKind.AIVOICE)
    )
    return {t.id: t for t in rows}


async def _callees(session: AsyncSession, ids: list[int | None]) -> dict[int, Callee]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {c.id: c for c in await session.scalars(select(Callee).where(Callee.id.in_(wanted)))}


async def queue_sms_reports(
    session: AsyncSession, outcomes: Sequence[sms.Outcome], now: datetime, *, due: datetime
) -> int:
    """The SMS delivery report push (§4.6) of each settled message whose app has an SMS push
    URL; returns how many were queued."""
    urls = await _urls(session, App.sms_push_url, {o.app_id for o in outcomes if o.app_id})
    return await outbox.enqueue_many(
        session,
        (
            outbox.PushItem(
                o.account_id, o.app_id, outbox.SMS_REPORT, o.msg_id, sms.report_push_json(o)
            )
            for o in outcomes
            if o.app_id and urls.get(o.app_id)
        ),
        now,
        due=due,
    )


async def queue_cc_records(
    session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime, *, due: datetime
) -> None:
    """The call-center record push of each new `cc_records` row (as inserted): transferred
    group calls and inbound calls alike."""
    urls = await _urls(session, App.cc_push_url, {r["app_id"] for r in rows})
    await outbox.enqueue_many(
        session,
        (
            outbox.PushItem(
                r["account_id"],
                r["app_id"],
                outbox.CC_RECORD,
                r["call_session_id"],
                ccrecords.record_json(r),
            )
            for r in rows
            if urls.get(r["app_id"])
        ),
        now,
        due=due,
    )


async def queue_ringing(
    session: AsyncSession,
    *,
    account_id: int,
    app_id: str,
    call_id: str,
    called: str,
    called_info: str | None,
    task_id: int | None,
    agent: ReservedAgent,
    no_answer: list[str],
    at: datetime,
    now: datetime,
    due: datetime,
    ring_type: int = ccrecords.RING_GROUP_CALL,
    caller: str | None = None,
) -> None:
    """The agent ringing push (§4.2) of one offer to an agent; one per offer of a call."""
    urls = await _urls(session, App.ring_push_url, {app_id})
    if not urls.get(app_id):
        return
    payload = ccrecords.ringing_json(
        voice_id=call_id,
        called=called,
        called_info=called_info,
        task_id=task_id,
        agent=agent,
        no_answer=no_answer,
        at=at,
        ring_type=ring_type,
        caller=caller,
    )
    item = outbox.PushItem(
        account_id, app_id, outbox.AGENT_RINGING, f"{call_id}:{len(no_answer)}", payload
    )
    await outbox.enqueue_many(session, [item], now, due=due)
