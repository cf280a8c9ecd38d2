"""What the console shows of an account at a glance: today's and the week's call figures, and its
call records filtered, paged or streamed (the CSV export reads them in keyset pages)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.domain.codes import ApiError, Code
from voxcast.domain.schedule import zone
from voxcast.services.listing import matching
from voxcast.storage.models import CallRecord

#: rows the CSV export reads per query; each page is a short transaction of its own
EXPORT_PAGE = 1000


@dataclass(frozen=True)
class DayFigures:
    calls: int
    answered: int
    talk_seconds: int
    cost: Decimal

    @property
    def answer_rate(self) -> float:
        return 100.0 * self.answered / self.calls if self.calls else 0.0

    @property
    def average_talk(self) -> float:
        return self.talk_seconds / self.answered if self.answered else 0.0


def _in(start: datetime, end: datetime, value: Any) -> Any:
    """`value` for a record submitted in [start, end), else nothing (a per-day column)."""
    inside = and_(CallRecord.submit_time >= start, CallRecord.submit_time < end)
    return case((inside, value), else_=None)


async def days_figures(
    session: AsyncSession, account_id: int, now: datetime, zone_name: str, days: int = 7
) -> list[tuple[date, DayFigures]]:
    """The figures of each of the last `days` days in the account's zone (today last), read in
    one query over the week's records (each day a column of conditional aggregates)."""
    tz = zone(zone_name)
    today = now.astimezone(tz).date()
    dates = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    edges = [datetime.combine(d, time(0), tz) for d in [*dates, today + timedelta(days=1)]]
    columns: list[Any] = []
    for start, end in itertools.pairwise(edges):
        columns += [
            func.count(_in(start, end, 1)),
            func.count(_in(start, end, CallRecord.answer_time)),
            func.coalesce(func.sum(_in(start, end, CallRecord.call_duration)), 0),
            func.coalesce(func.sum(_in(start, end, CallRecord.cost)), 0),
        ]
    row = (
        await session.execute(
            select(*columns).where(
                CallRecord.account_id == account_id,
                CallRecord.submit_time >= edges[0],
                CallRecord.submit_time < edges[-1],
            )
        )
    ).one()
    out = []
    for i, day in enumerate(dates):
        calls, answered, talk, cost = row[4 * i : 4 * i + 4]
        out.append((day, DayFigures(int(calls), int(answered), int(talk), Decimal(cost))))
    return out


def total(figures: list[tuple[date, DayFigures]]) -> DayFigures:
    return DayFigures(
        sum(f.calls for _, f in figures),
        sum(f.answered for _, f in figures),
        sum(f.talk_seconds for _, f in figures),
        sum((f.cost for _, f in figures), Decimal(0)),
    )


OUTCOMES = ("answered", "unanswered")


@dataclass(frozen=True)
class RecordFilter:
    """The records page's filters; dates are days in the account's zone, both included."""

    task_id: int | None = None
    number: str = ""
    outcome: str = ""
    day_from: date | None = None
    day_to: date | None = None

    def conditions(self, account_id: int, zone_name: str) -> list[Any]:
        where: list[Any] = [CallRecord.account_id == account_id]
        if self.task_id is not None:
            where.append(CallRecord.task_id == self.task_id)
        if self.number:
            where.append(matching(CallRecord.callee, self.number))
        if self.outcome == "answered":
            where.append(CallRecord.answer_time.is_not(None))
        elif self.outcome == "unanswered":
            where.append(CallRecord.answer_time.is_(None))
        elif self.outcome:
            raise ApiError(
                Code.PARAMETER, f"outcome: {self.outcome[:20]!r} is not answered or unanswered"
            )
        tz = zone(zone_name)
        if self.day_from is not None:
            where.append(CallRecord.submit_time >= datetime.combine(self.day_from, time(0), tz))
        if self.day_to is not None:
            end = datetime.combine(self.day_to + timedelta(days=1), time(0), tz)
            where.append(CallRecord.submit_time < end)
        return where


def _newest_first(where: list[Any]) -> Any:
    return (
        select(CallRecord)
        .where(*where)
        .order_by(CallRecord.submit_time.desc(), CallRecord.voice_id.desc())
    )


async def record_page(
    session: AsyncSession,
    account_id: int,
    zone_name: str,
    flt: RecordFilter,
    *,
    page: int,
    size: int,
) -> tuple[list[CallRecord], int]:
    """One page of the account's call records, newest first, and how many match."""
    where = flt.conditions(account_id, zone_name)
    total = int(
        await session.scalar(select(func.count()).select_from(CallRecord).where(*where)) or 0
    )
    # the page's keys first, then their rows: a deep page skips its offset in the
    # (account_id, submit_time, voice_id) index without reading the rows it skips
    keys = (
        select(CallRecord.voice_id)
        .where(*where)
        .order_by(CallRecord.submit_time.desc(), CallRecord.voice_id.desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    rows = (await session.scalars(_newest_first([CallRecord.voice_id.in_(keys)]))).all()
    return list(rows), total


async def stream_records(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    zone_name: str,
    flt: RecordFilter,
    *,
    page_size: int = EXPORT_PAGE,
) -> AsyncIterator[list[CallRecord]]:
    """Every matching record, newest first, in pages: each page is read in a transaction of its
    own after the last row of the one before (keyset), so memory stays one page and a long
    export never holds a database snapshot or lock."""
    where = flt.conditions(account_id, zone_name)
    after: tuple[datetime, str] | None = None
    while True:
        query = list(where)
        if after is not None:
            at, vid = after
            query.append(
                or_(
                    CallRecord.submit_time < at,
                    and_(CallRecord.submit_time == at, CallRecord.voice_id < vid),
                )
            )
        async with sessions() as session:
            rows = list((await session.scalars(_newest_first(query).limit(page_size))).all())
        if not rows:
            return
        yield rows
        if len(rows) < page_size:
            return
        after = (rows[-1].submit_time, rows[-1].voice_id)
