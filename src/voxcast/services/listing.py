"""Filters shared by the list endpoints: a creation-time window in the account's zone, a
fuzzy text match, and one page of tasks newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from voxcast.domain.codes import ApiError, Code
from voxcast.domain.schedule import parse_send_time
from voxcast.storage.models import Task


def created_between(
    column: InstrumentedAttribute[Any], params: dict[str, Any], zone_name: str
) -> list[Any]:
    """Conditions for `params.strTime` ≤ column ≤ `params.endTime` ("yyyy-MM-dd HH:mm:ss"
    read in the account's zone); -11 naming the parameter when one is malformed."""
    conditions: list[Any] = []
    for key, op in (("strTime", column.__ge__), ("endTime", column.__le__)):
        if params.get(key):
            try:
                conditions.append(op(parse_send_time(str(params[key]), zone_name)))
            except ValueError:
                raise ApiError(
                    Code.TIME_FORMAT, f"params.{key}: must be yyyy-MM-dd HH:mm:ss"
                ) from None
    return conditions


def matching(column: InstrumentedAttribute[Any], text: str) -> Any:
    """The vendor's fuzzy search: `column` contains `text`, case-insensitively (as its MySQL
    collation compares), with `%` and `_` in `text` taken literally. Same on both databases."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if text.lower() == text.upper():
        # no letter to fold (a number): the same rows by LIKE, which PostgreSQL runs 3-5 times
        # faster than ILIKE (100,000 numbers: 23-44 ms against 122 ms; the records filter)
        return column.like(f"%{escaped}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


async def task_page(
    session: AsyncSession, where: list[Any], current: int, size: int
) -> tuple[int, list[Task]]:
    """How many tasks match `where`, and page `current` (1-based) of them, newest first."""
    total = int(await session.scalar(select(func.count()).select_from(Task).where(*where)) or 0)
    tasks = (
        await session.scalars(
            select(Task)
            .where(*where)
            .order_by(Task.created_at.desc(), Task.id.desc())
            .offset((current - 1) * size)
            .limit(size)
        )
    ).all()
    return total, list(tasks)
