"""Do-not-call lists: an app's and the whole account's, in E.164, every change audited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.compliance.numbers import callee_key
from voxcast.storage.models import DncAudit, DncNumber

#: the list of the whole account (an app's list has the app's id)
ACCOUNT_WIDE = ""
#: where a change came from; VOICE: the callee said so to the AI robot (`robot.dialogue.OptOut`)
API, IMPORT, KEY_PRESS, CONSOLE, VOICE = "api", "import", "key", "console", "voice"
_CHUNK = 500
#: entries read per query by a streamed export
EXPORT_PAGE = 1000


@dataclass(frozen=True)
class DncEntry:
    """One number on one list ("" app_id: the account's list)."""

    number: str
    app_id: str
    source: str
    created_at: datetime

    @classmethod
    def of(cls, row: DncNumber) -> DncEntry:
        return cls(row.number, row.app_id, row.source, row.created_at)


_Item = TypeVar("_Item", bound=Sequence[Any])


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


async def _present(
    session: AsyncSession, account_id: int, app_id: str, numbers: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(numbers):
        rows = await session.scalars(
            select(DncNumber.number).where(
                DncNumber.account_id == account_id,
                DncNumber.app_id == app_id,
                DncNumber.number.in_(chunk),
            )
        )
        found.update(rows.all())
    return found


async def _audit(
    session: AsyncSession,
    account_id: int,
    app_id: str,
    numbers: Sequence[str],
    *,
    action: str,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    if numbers:
        await session.execute(
            insert(DncAudit),
            [
                {
                    "account_id": account_id,
                    "app_id": app_id,
                    "number": n,
                    "action": action,
                    "source": source,
                    "actor": actor[:128],
                    "at": now,
                }
                for n in numbers
            ],
        )


async def add(
    session: AsyncSession,
    account_id: int,
    app_id: str,
    numbers: Sequence[str],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Put E.164 numbers on a list; returns those that were not on it yet (each audited)."""
    wanted = list(dict.fromkeys(numbers))
    there = await _present(session, account_id, app_id, wanted)
    new = [n for n in wanted if n not in there]
    if new:
        await session.execute(
            insert(DncNumber),
            [
                {
                    "account_id": account_id,
                    "app_id": app_id,
                    "number": n,
                    "source": source,
                    "created_at": now,
                }
                for n in new
            ],
        )
    await _audit(
        session, account_id, app_id, new, action="add", source=source, actor=actor, now=now
    )
    return new


async def remove(
    session: AsyncSession,
    account_id: int,
    app_id: str,
    numbers: Sequence[str],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Take E.164 numbers off a list; returns those that were on it (each audited)."""
    wanted = list(dict.fromkeys(numbers))
    there = await _present(session, account_id, app_id, wanted)
    gone = [n for n in wanted if n in there]
    for chunk in _chunks(gone):
        await session.execute(
            delete(DncNumber).where(
                DncNumber.account_id == account_id,
                DncNumber.app_id == app_id,
                DncNumber.number.in_(chunk),
            )
        )
    await _audit(
        session, account_id, app_id, gone, action="remove", source=source, actor=actor, now=now
    )
    return gone


async def listed(
    session: AsyncSession, account_id: int, app_id: str, numbers: Iterable[str]
) -> set[str]:
    """Which of a task's numbers (as the task holds them) the app's list or the account's
    list holds. An account with empty lists costs one indexed query."""
    any_entry = await session.scalar(
        select(DncNumber.id).where(DncNumber.account_id == account_id).limit(1)
    )
    if any_entry is None:
        return set()
    keys = {n: callee_key(n) for n in numbers}
    found: set[str] = set()
    wanted = sorted(set(keys.values()))
    for chunk in _chunks(wanted):
        rows = await session.scalars(
            select(DncNumber.number).where(
                DncNumber.account_id == account_id,
                DncNumber.app_id.in_([ACCOUNT_WIDE, app_id]),
                DncNumber.number.in_(chunk),
            )
        )
        found.update(rows.all())
    return {n for n, key in keys.items() if key in found}


async def screen(
    session: AsyncSession, account_id: int, app_id: str, items: Sequence[_Item]
) -> tuple[list[_Item], int]:
    """Submission: the items (number first) whose number no list holds, and how many were
    left out."""
    hit = await listed(session, account_id, app_id, (item[0] for item in items))
    if not hit:
        return list(items), 0
    kept = [item for item in items if item[0] not in hit]
    return kept, len(items) - len(kept)


def _entry(row: DncEntry) -> dict[str, Any]:
    return {
        "number": row.number,
        "appId": row.app_id or None,
        "source": row.source,
        "createdTime": int(row.created_at.timestamp()),
    }


async def entry_page(
    session: AsyncSession,
    account_id: int,
    *,
    app_id: str | None,
    numbers: Sequence[str] | None,
    current: int,
    size: int,
) -> tuple[list[DncEntry], int]:
    """A page of the account's entries, newest first, and how many match: one list (`app_id`,
    "" the account's) or all of them, all numbers or the given E.164 numbers only."""
    where: list[Any] = [DncNumber.account_id == account_id]
    if app_id is not None:
        where.append(DncNumber.app_id == app_id)
    if numbers is not None:
        where.append(DncNumber.number.in_(list(numbers)))
    total = int(
        await session.scalar(select(func.count()).select_from(DncNumber).where(*where)) or 0
    )
    rows = await session.scalars(
        select(DncNumber)
        .where(*where)
        .order_by(DncNumber.created_at.desc(), DncNumber.id.desc())
        .offset((current - 1) * size)
        .limit(size)
    )
    return [DncEntry.of(r) for r in rows.all()], total


async def entries(
    session: AsyncSession,
    account_id: int,
    *,
    app_id: str | None,
    numbers: Sequence[str] | None,
    current: int,
    size: int,
) -> tuple[list[dict[str, Any]], int]:
    """`entry_page` as the API answers it."""
    rows, total = await entry_page(
        session, account_id, app_id=app_id, numbers=numbers, current=current, size=size
    )
    return [_entry(r) for r in rows], total


async def stream_entries(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    app_id: str | None,
    *,
    page_size: int = EXPORT_PAGE,
) -> AsyncIterator[list[DncEntry]]:
    """Every entry of one list (or of all the account's), oldest first, in pages: each page is
    read in a transaction of its own after the last id of the one before (keyset), so a long
    export keeps one page in memory and holds no snapshot or lock."""
    after = 0
    while True:
        query = select(DncNumber).where(DncNumber.account_id == account_id, DncNumber.id > after)
        if app_id is not None:
            query = query.where(DncNumber.app_id == app_id)
        query = query.order_by(DncNumber.id).limit(page_size)
        async with sessions() as session:
            rows = list((await session.scalars(query)).all())
        if not rows:
            return
        yield [DncEntry.of(r) for r in rows]
        if len(rows) < page_size:
            return
        after = rows[-1].id


async def all_entries(
    session: AsyncSession, account_id: int, app_id: str | None
) -> list[DncNumber]:
    """Every entry of one list (or of all the account's lists), oldest first, for export."""
    query = select(DncNumber).where(DncNumber.account_id == account_id)
    if app_id is not None:
        query = query.where(DncNumber.app_id == app_id)
    return list((await session.scalars(query.order_by(DncNumber.id))).all())


async def audit_trail(
    session: AsyncSession, account_id: int, number: str | None = None, limit: int = 1000
) -> list[DncAudit]:
    """The account's list changes, oldest first (of one E.164 number when given)."""
    query = select(DncAudit).where(DncAudit.account_id == account_id)
    if number is not None:
        query = query.where(DncAudit.number == number)
    return list((await session.scalars(query.order_by(DncAudit.id).limit(limit))).all())
