"""Work claimed under a lease by one of several processes sharing a database (the push outbox,
the SMS sender): the guarded update that takes a row only if nobody holds it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


async def take(
    session: AsyncSession,
    model: Any,
    ids: Sequence[int],
    state: InstrumentedAttribute[Any],
    pending: object,
    now: datetime,
    until: datetime,
) -> set[int]:
    """Lease those of `ids` still `pending` whose lease is free or ran out before `now`; the
    ids taken. Guarded, so a row another process leased meanwhile is not taken twice (SQLite
    has no SKIP LOCKED; there BEGIN IMMEDIATE serializes claims and this guard suffices)."""
    result = await session.scalars(
        update(model)
        .where(
            model.id.in_(ids),
            state == pending,
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .values(lease_until=until)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.all())
