"""billPeriod rounding and call cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from voxcast.domain.billing import BillPeriod, call_cost


@pytest.mark.parametrize(
    ("period", "talk", "charged"),
    [
        ("20+20", 0, 0),
        ("20+20", 1, 20),
        ("20+20", 20, 20),
        ("20+20", 21, 40),
        ("20+20", 13, 20),
        ("60+60", 61, 120),
        ("60+6", 61, 66),
        ("1+1", 37, 37),
        ("30+10", 45, 50),
    ],
)
def test_charged_duration_rounds_up_by_bill_period(period: str, talk: int, charged: int) -> None:
    assert BillPeriod.parse(period).charged_seconds(talk) == charged


@pytest.mark.parametrize("bad", ["", "20", "20+", "a+b", "0+20", "20+0", "20-20"])
def test_malformed_bill_period_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        BillPeriod.parse(bad)


def test_cost_is_rate_per_minute_times_billed_seconds_to_six_decimals() -> None:
    assert call_cost(Decimal("0.023625"), 20) == Decimal("0.007875")
    assert call_cost(Decimal("0.06"), 0) == Decimal("0")
    assert call_cost(Decimal("1"), 90) == Decimal("1.5")
