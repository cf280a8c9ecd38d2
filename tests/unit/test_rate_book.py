"""The rate book's longest-prefix choice over a task's numbers, as frozen at submission."""

from __future__ import annotations

from decimal import Decimal

import pytest

from voxcast.domain.codes import ApiError, Code
from voxcast.services.rates import RateBook


def book() -> RateBook:
    return RateBook(
        {"86": Decimal("0.02"), "86139": Decimal("0.05"), "1": Decimal("0.03")},
        {"": Decimal("0.10"), "44": Decimal("0.07")},
    )


def test_each_number_gets_its_longest_prefix_in_order() -> None:
    numbers = [
        "8613900000001",  # 86139 (account, longest)
        "8613800000001",  # 86: shares the head 8613 with the one before, not its rate
        "8613900000002",  # 86139 again
        "86139",  # exactly the longest prefix
        "8613",  # shorter than the longest prefix: 86
        "4420000000",  # platform 44
        "3300000000",  # platform catch-all
        "15550000000",  # account 1 before platform ""
    ]
    rates = book().require_all(numbers, "numberInfoList")
    expected = ["0.05", "0.02", "0.05", "0.05", "0.02", "0.07", "0.10", "0.03"]
    assert rates == [Decimal(x) for x in expected]
    assert rates == [book().lookup(n) for n in numbers]


def test_the_first_number_without_a_rate_is_named() -> None:
    account_only = RateBook({"86": Decimal("0.02")}, {})
    with pytest.raises(ApiError) as err:
        account_only.require_all(["8613000000001", "8613000000002", "4420000000"], "numberList")
    assert err.value.code == Code.FEE
    assert "numberList[2]" in str(err.value) and "4420000000" in str(err.value)
