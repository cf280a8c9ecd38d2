"""Which rate prices a number (docs/billing.md): the longest matching prefix wins, the account's
own rates are looked up before the platform price list, another account's rates never apply,
and a number nothing covers is -26 naming its field; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from voxcast.domain.codes import ApiError
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.services.rates import RateBook

D = Decimal


def test_the_longest_prefix_wins_within_a_list() -> None:
    book = RateBook({}, {"": D("0.09"), "86": D("0.015"), "8613": D("0.02"), "861390": D("0.3")})
    assert book.lookup("8613900000000") == D("0.3")
    assert book.lookup("8613800000000") == D("0.02")
    assert book.lookup("8615000000000") == D("0.015")
    assert book.lookup("4420000000") == D("0.09")  # the catch-all
    # a prefix longer than the number never matches it
    assert book.lookup("861") == D("0.015")


def test_the_accounts_own_rate_comes_before_the_platforms() -> None:
    book = RateBook(
        {"86": D("0.011"), "91": D("0.021")},
        {"": D("0.09"), "8613": D("0.05"), "91": D("0.03"), "44": D("0.04")},
    )
    # the account's shorter 86 beats the platform's longer 8613: its own list is tried first
    assert book.lookup("8613000000000") == D("0.011")
    assert book.lookup("9180000000") == D("0.021")
    assert book.lookup("4420000000") == D("0.04")  # only the platform prices 44
    assert book.lookup("3312345678") == D("0.09")
    own_catch_all = RateBook({"": D("0.07")}, {"44": D("0.04")})
    assert own_catch_all.lookup("4420000000") == D("0.07")


def test_a_number_no_rate_covers_is_minus_26_naming_it() -> None:
    book = RateBook({"86": D("0.011")}, {"91": D("0.03")})
    assert book.lookup("4420000000") is None
    with pytest.raises(ApiError) as err:
        book.require_all(["8613000000000", "9180000000", "4420000000"], "numberList")
    assert err.value.code.value == "-26"
    assert "numberList[2]" in str(err.value) and "4420000000" in str(err.value)
    assert book.require_all(["8613000000000", "9180000000"], "numberList") == [
        D("0.011"),
        D("0.03"),
    ]


async def test_the_rate_book_read_from_the_database(rt: Runtime) -> None:
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        alice = await accounts.create_account(session, rt.secrets, now, name="alice")
        bob = await accounts.create_account(session, rt.secrets, now, name="bob")
        await rates.set_rate(session, None, "", D("0.09"))
        await rates.set_rate(session, None, "86", D("0.05"))
        await rates.set_rate(session, None, "8613", D("0.04"))
        await rates.set_rate(session, alice.account_id, "86", D("0.012"))
        await rates.set_rate(session, alice.account_id, "86", D("0.013"))  # replaces
        await rates.set_rate(session, bob.account_id, "44", D("0.001"))
        await rates.set_rate(session, bob.account_id, "8613", D("0.002"))
    async with rt.sessions() as session:
        a = await rates.load_rate_book(session, alice.account_id)
        b = await rates.load_rate_book(session, bob.account_id)
    assert a.lookup("8613000000000") == D("0.013")
    assert a.lookup("4420000000") == D("0.09")  # bob's 44 is not alice's
    assert b.lookup("8613000000000") == D("0.002")
    assert b.lookup("8615000000000") == D("0.05")
    assert b.lookup("4420000000") == D("0.001")
