"""The SMS port's sandbox sink: post-call messages are kept in the database and "sent" when
due, so they can be listed (`voxcast admin sms list`) and tested. A real transport comes later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.storage.models import SmsMessage

PENDING, SENT = 0, 1


async def deliver_due(session: AsyncSession, now: datetime) -> int:
    """Mark messages whose send time has come as sent; returns how many."""
    result = await session.execute(
        update(SmsMessage)
        .where(SmsMessage.state == PENDING, SmsMessage.send_at <= now)
        .values(state=SENT)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_messages(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    task_id: int | None = None,
    limit: int = 100,
) -> list[SmsMessage]:
    query = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(SmsMessage.account_id == account_id)
    if task_id is not None:
        query = query.where(SmsMessage.task_id == task_id)
    return list((await session.scalars(query)).all())
