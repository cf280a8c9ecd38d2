"""The outbox as an operator sees it (`voxcast pushes ...`): pushes that failed or died, sending
them again, and what an app's push settings are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.storage.models import App, Push
from voxcast.webhooks.sender import DEAD, DELIVERED, PENDING


class Trouble(StrEnum):
    """Which pushes `pushes list` shows."""

    #: still to be tried again: an attempt failed (`last_error` says why)
    FAILED = "failed"
    #: given up on after the last attempt (or the app lost its URL): never sent again by itself
    DEAD = "dead"
    ALL = "all"


def _troubled(which: Trouble) -> object:
    failed = (Push.state == PENDING) & (Push.last_error != "")
    if which == Trouble.FAILED:
        return failed
    if which == Trouble.DEAD:
        return Push.state == DEAD
    return or_(failed, Push.state == DEAD)


async def troubled_pushes(
    session: AsyncSession,
    *,
    which: Trouble = Trouble.ALL,
    account_id: int | None = None,
    app_id: str | None = None,
    limit: int = 100,
) -> list[Push]:
    """Failed (waiting for a retry) and dead pushes, newest first."""
    query = select(Push).where(_troubled(which))  # type: ignore[arg-type]
    if account_id is not None:
        query = query.where(Push.account_id == account_id)
    if app_id is not None:
        query = query.where(Push.app_id == app_id)
    rows = await session.scalars(query.order_by(Push.id.desc()).limit(limit))
    return list(rows.all())


async def retry_pushes(
    session: AsyncSession,
    now: datetime,
    *,
    ids: Sequence[int] = (),
    all_dead: bool = False,
    account_id: int | None = None,
) -> list[int]:
    """Make the given pushes (not yet delivered), or every dead one, due at `now` (wall time)
    with a full set of attempts again; the ids made due. An id that does not exist, or was
    delivered already, is answered -24 and nothing changes."""
    if ids:
        known = dict(
            (await session.execute(select(Push.id, Push.state).where(Push.id.in_(list(ids))))).all()
        )
        for push_id in ids:
            if push_id not in known:
                raise ApiError(Code.NOT_FOUND, f"push {push_id} does not exist")
            if known[push_id] == DELIVERED:
                raise ApiError(Code.PARAMETER, f"push {push_id} was delivered already")
        where: list[Any] = [Push.id.in_(list(ids))]
    elif all_dead:
        where = [Push.state == DEAD]
    else:
        return []
    if account_id is not None:
        where.append(Push.account_id == account_id)
    done = await session.scalars(
        update(Push)
        .where(*where, Push.state != DELIVERED)
        .values(state=PENDING, attempts=0, next_attempt_at=now, lease_until=None)
        .returning(Push.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(done.all())


@dataclass(frozen=True)
class PushSettings:
    """Where an app's pushes go and how, and how its outbox stands (the secret never shown)."""

    app: App
    has_secret: bool
    #: pushes of the app by outbox state: waiting (PENDING), delivered, dead
    waiting: int
    delivered: int
    dead: int


async def push_settings(session: AsyncSession, app_id: str) -> PushSettings:
    """An app's push settings; -24 when there is no such app."""
    app = await session.get(App, app_id)
    if app is None:
        raise ApiError(Code.NOT_FOUND, f"appId {app_id} does not exist")
    counts = dict(
        (
            await session.execute(
                select(Push.state, func.count()).where(Push.app_id == app_id).group_by(Push.state)
            )
        ).all()
    )
    return PushSettings(
        app,
        bool(app.push_secret_enc),
        int(counts.get(PENDING, 0)),
        int(counts.get(DELIVERED, 0)),
        int(counts.get(DEAD, 0)),
    )
