"""Claiming callees with a lease, within an account's pacing limits (CPS and channels).

On PostgreSQL the claim takes a per-account advisory lock, so several workers never exceed the
account's limits together, and `FOR UPDATE SKIP LOCKED` so they never claim the same row. SQLite
is the single-node mode: one dialer per database file (docs/deployment.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.enums import CalleeState
from voxcast.storage.models import CALLEES, Callee

PACING_WINDOW = timedelta(seconds=1)

_ACCOUNT_LOCK_BASE = 7_311_931_000_000


@dataclass
class Claimed:
    id: int
    task_id: int
    seq: int
    callee: str
    info: dict[str, Any] | None
    voice_id: str | None
    attempts: int
    #: USD per minute frozen at submission; None on rows made before rates were frozen
    rate: Decimal | None = None


async def capacity(
    session: AsyncSession, task_ids: list[int], now: datetime, max_cps: int, max_channels: int
) -> int:
    """How many calls the account may start now: free channels and what the last second allows."""
    if not task_ids:
        return 0
    in_flight = await session.scalar(
        select(func.count())
        .select_from(Callee)
        .where(Callee.task_id.in_(task_ids), Callee.state == CalleeState.DIALING)
    )
    recent = await session.scalar(
        select(func.count())
        .select_from(Callee)
        .where(
            Callee.dialed_at >= now - PACING_WINDOW,
            Callee.dialed_at <= now,
            Callee.task_id.in_(task_ids),
        )
    )
    return max(0, min(max_channels - int(in_flight or 0), max_cps - int(recent or 0)))


async def lock_account(session: AsyncSession, account_id: int) -> None:
    """Serialize claims of one account across workers (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ACCOUNT_LOCK_BASE + account_id}
        )


async def claim(
    session: AsyncSession,
    task_id: int,
    limit: int,
    now: datetime,
    worker_id: str,
    lease_until: datetime,
) -> list[Claimed]:
    """Lease up to `limit` due callees of one task, in list order."""
    if limit <= 0:
        return []
    due = (
        select(Callee.id)
        .where(
            Callee.task_id == task_id,
            Callee.state == CalleeState.PENDING,
            or_(Callee.next_attempt_at.is_(None), Callee.next_attempt_at <= now),
        )
        .order_by(Callee.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(Callee)
        .where(Callee.id.in_(ids), Callee.state == CalleeState.PENDING)
        .values(
            state=CalleeState.DIALING,
            lease_owner=worker_id,
            lease_until=lease_until,
            dialed_at=now,
            attempts=Callee.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        select(
            Callee.id,
            Callee.task_id,
            Callee.seq,
            Callee.callee,
            Callee.info,
            Callee.voice_id,
            Callee.attempts,
            Callee.rate,
        )
        .where(
            Callee.id.in_(ids), Callee.lease_owner == worker_id, Callee.state == CalleeState.DIALING
        )
        .order_by(Callee.seq)
    )
    return [Claimed(*row) for row in rows]


async def expired_leases(session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    """Callees whose worker died mid-call (lease run out while still DIALING)."""
    rows = await session.scalars(
        select(Callee.id)
        .where(Callee.state == CalleeState.DIALING, Callee.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def release(session: AsyncSession, held: list[tuple[int, datetime]]) -> None:
    """Undo claims without dialing: back to pending, due at the given time, no attempt used."""
    table = CALLEES
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("cid"))
        .values(
            state=CalleeState.PENDING,
            lease_owner=None,
            lease_until=None,
            dialed_at=None,
            attempts=table.c.attempts - 1,
            next_attempt_at=bindparam("due"),
        ),
        [{"cid": cid, "due": due} for cid, due in held],
    )
