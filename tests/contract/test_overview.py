"""The dashboard's figures per day of the account's zone: one query over the last 7 days,
each record counted on the local day it was submitted, nothing older and no other account's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.conftest import Tenant
from tests.contract.test_records import answered, insert
from voxcast.runtime import Runtime
from voxcast.services import overview
from voxcast.services.overview import DayFigures

#: Monday 2 March 2026, 09:00 in Shanghai (UTC+8)
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_each_record_counts_on_its_local_day(rt: Runtime, tenant: Tenant) -> None:
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        """A Shanghai wall time in March 2026 (or late February for day <= 0), as UTC."""
        local = datetime(2026, 3, 1) + timedelta(days=day - 1, hours=hour, minutes=minute)
        return (local - timedelta(hours=8)).replace(tzinfo=UTC)

    unanswered = {"answer_time": None, "call_duration": 0, "cost": Decimal(0)}
    await insert(
        rt,
        # today (2 March): 00:00 local is still today; one answered, one not
        answered(tenant, "v01", at(2, 0, 0), call_duration=30, cost=Decimal("0.05")),
        answered(tenant, "v02", at(2, 8, 59), **unanswered),
        # yesterday 23:59 local (15:59 UTC of the 1st): yesterday, not today
        answered(tenant, "v03", at(1, 23, 59), call_duration=10, cost=Decimal("0.02")),
        # six days ago (24 February) is the first day shown; seven days ago is not
        answered(tenant, "v04", at(-4, 12), call_duration=5, cost=Decimal("0.01")),
        answered(tenant, "v05", at(-5, 23, 59), call_duration=99, cost=Decimal("9")),
    )
    async with rt.readonly() as session:
        week = await overview.days_figures(session, tenant.creds.account_id, NOW, "Asia/Shanghai")
        # another account's figures are its own: none
        other = await overview.days_figures(session, tenant.creds.account_id + 999, NOW, "UTC")
    assert [day for day, _ in week] == [date(2026, 2, 24) + timedelta(days=i) for i in range(7)]
    figures = dict(week)
    assert figures[date(2026, 3, 2)] == DayFigures(2, 1, 30, Decimal("0.05"))
    assert figures[date(2026, 3, 1)] == DayFigures(1, 1, 10, Decimal("0.02"))
    assert figures[date(2026, 2, 24)] == DayFigures(1, 1, 5, Decimal("0.01"))
    empty = DayFigures(0, 0, 0, Decimal(0))
    assert [figures[date(2026, 2, d)] for d in (25, 26, 27, 28)] == [empty] * 4
    assert overview.total(week) == DayFigures(4, 3, 45, Decimal("0.08"))
    assert overview.total(week).answer_rate == 75.0
    assert overview.total(week).average_talk == 15.0
    assert [f for _, f in other] == [empty] * 7
