"""Destination rates: longest-prefix lookup (account list first, then the platform list)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.storage.models import Rate


@dataclass
class RateBook:
    """An account's rates in memory: per-minute price by prefix. The prefix "" matches all."""

    account: dict[str, Decimal]
    platform: dict[str, Decimal]

    def lookup(self, number: str) -> Decimal | None:
        for table in (self.account, self.platform):
            for n in range(len(number), -1, -1):
                rate = table.get(number[:n])
                if rate is not None:
                    return rate
        return None

    def require_all(self, numbers: Iterable[str], field: str) -> None:
        """-26 naming the first number no rate covers (checked at submission)."""
        for i, number in enumerate(numbers):
            if self.lookup(number) is None:
                raise ApiError(Code.FEE, f"{field}[{i}]: no rate for destination {number}")


async def load_rate_book(session: AsyncSession, account_id: int) -> RateBook:
    rows = await session.execute(
        select(Rate.account_id, Rate.prefix, Rate.rate).where(
            or_(Rate.account_id == account_id, Rate.account_id.is_(None))
        )
    )
    book = RateBook({}, {})
    for owner, prefix, rate in rows:
        (book.account if owner is not None else book.platform)[prefix] = rate
    return book


async def set_rate(
    session: AsyncSession,
    account_id: int | None,
    prefix: str,
    rate: Decimal,
    description: str = "",
) -> None:
    """Insert or replace one rate (account_id None = the platform price list)."""
    if prefix and not prefix.isdigit():
        raise ApiError(Code.PARAMETER, f"prefix: {prefix!r} must be digits")
    if rate < 0:
        raise ApiError(Code.PARAMETER, "rate: must not be negative")
    existing = await session.scalar(
        select(Rate).where(
            Rate.prefix == prefix,
            Rate.account_id.is_(None) if account_id is None else Rate.account_id == account_id,
        )
    )
    if existing is None:
        session.add(Rate(account_id=account_id, prefix=prefix, rate=rate, description=description))
    else:
        existing.rate = rate
        existing.description = description
    await session.flush()


def require_balance(balance: Decimal) -> None:
    """-10 when an account has nothing left to spend (checked at submission)."""
    if balance <= 0:
        raise ApiError(Code.BALANCE, f"balance is {balance:.6f}")
