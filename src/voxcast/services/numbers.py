"""Inbound numbers (DIDs, issue 11): which agent group a number callers dial rings. Managed
with `voxcast admin number` and the `/cc/number/*` API extension; read by the inbound call
handler for every INVITE that reaches the registrar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.storage.models import AgentGroup, InboundNumber

#: what a caller can dial: digits, an optional leading + (a record's `called` holds 20)
NUMBER = re.compile(r"\+?[0-9]{2,19}")


@dataclass(frozen=True)
class Route:
    """Where a dialled number goes: the group's account, app, id and settings."""

    number: str
    account_id: int
    app_id: str
    group_id: int
    group_name: str
    callin_strategy: int
    settings: dict[str, Any]


def check_number(number: str, field: str = "number") -> str:
    if not NUMBER.fullmatch(number):
        raise ApiError(
            Code.PHONE_INVALID,
            f"{field}: {number!r} is not a number (2-19 digits, an optional leading +)",
        )
    return number


async def add_number(
    session: AsyncSession,
    number: str,
    group_id: int,
    now: datetime,
    *,
    account_id: int | None = None,
    field: str = "voiceGroupId",
) -> InboundNumber:
    """Route `number` to agent group `group_id` (of `account_id` when given: the API's
    caller; the admin CLI may name any group)."""
    check_number(number)
    group = await session.get(AgentGroup, group_id) if 0 < group_id <= 2**31 - 1 else None
    if group is None or (account_id is not None and group.account_id != account_id):
        raise ApiError(Code.NOT_FOUND, f"{field}: agent group {group_id} does not exist")
    taken = await session.scalar(select(InboundNumber.id).where(InboundNumber.number == number))
    if taken is not None:
        raise ApiError(Code.EXISTS, f"number: {number} already rings an agent group")
    row = InboundNumber(
        number=number,
        account_id=group.account_id,
        app_id=group.app_id,
        group_id=group.id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def remove_number(
    session: AsyncSession, number: str, *, account_id: int | None = None
) -> None:
    check_number(number)  # before it reaches the database: NULs and the like are no number
    row = await session.scalar(select(InboundNumber).where(InboundNumber.number == number))
    if row is None or (account_id is not None and row.account_id != account_id):
        raise ApiError(Code.NOT_FOUND, f"number: {number} is not an inbound number")
    await session.delete(row)


async def list_numbers(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    current: int = 1,
    size: int = 1000,
) -> tuple[list[dict[str, Any]], int]:
    where = [] if account_id is None else [InboundNumber.account_id == account_id]
    total = int(
        await session.scalar(select(func.count()).select_from(InboundNumber).where(*where)) or 0
    )
    rows = await session.execute(
        select(InboundNumber, AgentGroup.group_name)
        .join(AgentGroup, AgentGroup.id == InboundNumber.group_id)
        .where(*where)
        .order_by(InboundNumber.number)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [
        {
            "number": n.number,
            "voiceGroupId": n.group_id,
            "groupName": name,
            "appId": n.app_id,
            "accountId": n.account_id,
        }
        for n, name in rows.all()
    ], total


async def route_of(session: AsyncSession, number: str) -> Route | None:
    """The group a dialled number rings; None for a number that is not ours. A leading + is
    optional on either side."""
    bare = number.lstrip("+")
    found = (
        await session.execute(
            select(InboundNumber, AgentGroup)
            .join(AgentGroup, AgentGroup.id == InboundNumber.group_id)
            .where(InboundNumber.number.in_([bare, f"+{bare}"]))
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    row, group = found
    return Route(
        number=row.number,
        account_id=row.account_id,
        app_id=row.app_id,
        group_id=group.id,
        group_name=group.group_name,
        callin_strategy=group.callin_strategy,
        settings=dict(group.settings or {}),
    )
