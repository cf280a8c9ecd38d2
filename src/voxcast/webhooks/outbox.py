"""The durable push outbox: rows written in the same transaction as the event they report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.storage.models import Push

#: push kinds: where each goes (App.push_url, cc_push_url, ring_push_url, sms_push_url) and
#: how it retries
VOICE_REPORT = "voice_report"
SMS_REPORT = "sms_report"
CC_RECORD = "cc_record"
#: an AiVoice task's call (pushCallRecord), to the app's status-report URL like VOICE_REPORT
AI_CALL_RECORD = "ai_call_record"
AGENT_RINGING = "agent_ringing"


@dataclass(frozen=True)
class PushItem:
    account_id: int
    app_id: str
    kind: str
    dedupe_key: str
    payload: dict[str, Any] | list[dict[str, Any]]  # the ringing push is an array


async def enqueue_many(
    session: AsyncSession, items: Iterable[PushItem], now: datetime, *, due: datetime
) -> int:
    """Queue pushes; the sender delivers them after the transaction commits.

    `now` (the injected clock) stamps the row; `due` is the first attempt on the wall clock
    (`Runtime.wall`): attempts and retries reach a real receiver, so they never follow a faster
    sandbox clock.
    """
    rows = [
        {
            "account_id": i.account_id,
            "app_id": i.app_id,
            "kind": i.kind,
            "dedupe_key": i.dedupe_key,
            "payload": i.payload,
            "state": 0,
            "attempts": 0,
            "next_attempt_at": due,
            "last_error": "",
            "created_at": now,
        }
        for i in items
    ]
    if rows:
        await session.execute(insert(Push), rows)
    return len(rows)


async def enqueue(
    session: AsyncSession,
    *,
    account_id: int,
    app_id: str,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    now: datetime,
    due: datetime,
) -> None:
    """Queue one push (see `enqueue_many`)."""
    item = PushItem(account_id, app_id, kind, dedupe_key, payload)
    await enqueue_many(session, [item], now, due=due)
