"""Destination rates: longest-prefix lookup (account list first, then the platform list).

A callee's rate is frozen when its task is submitted (stored on the callee row) and the call is
billed at that rate; see docs/billing.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.services import accounts
from voxcast.storage.models import Rate


@dataclass
class RateBook:
    """An account's rates in memory: per-minute price by prefix. The prefix "" matches all."""

    account: dict[str, Decimal]
    platform: dict[str, Decimal]

    def __post_init__(self) -> None:
        self._lengths: list[tuple[dict[str, Decimal], list[int]]] = []

    def _tables(self) -> list[tuple[dict[str, Decimal], list[int]]]:
        # only the prefix lengths that exist are tried, longest first
        if not self._lengths:
            self._lengths = [
                (table, sorted({len(p) for p in table}, reverse=True))
                for table in (self.account, self.platform)
            ]
        return self._lengths

    def lookup(self, number: str) -> Decimal | None:
        for table, lengths in self._tables():
            for n in lengths:
                if n <= len(number):
                    rate = table.get(number[:n])
                    if rate is not None:
                        return rate
        return None

    def require_all(self, numbers: Iterable[str], field: str) -> list[Decimal]:
        """The rate of each number, to freeze on its callee row; -26 naming the first number
        no rate covers (checked at submission)."""
        # a number's rate depends on its first `longest` digits only, which a task's numbers
        # mostly share: each such head is looked up once, and the heads are cut and priced in
        # C-level passes (100,000 numbers: 16 → 5 ms); a head without a rate is named by the
        # loop below, which finds the first such number
        longest = max((len(p) for p in (*self.account, *self.platform)), default=0)
        numbers = numbers if isinstance(numbers, list) else list(numbers)
        heads = list(map(itemgetter(slice(0, longest)), numbers))
        priced = {head: self.lookup(head) for head in set(heads)}
        rated = {head: rate for head, rate in priced.items() if rate is not None}
        if len(rated) == len(priced):
            return list(map(rated.__getitem__, heads))
        found: list[Decimal] = []
        seen: dict[str, Decimal] = {}
        for i, number in enumerate(numbers):
            head = number[:longest]
            rate = seen.get(head)
            if rate is None:
                rate = self.lookup(number)
                if rate is None:
                    raise ApiError(Code.FEE, f"{field}[{i}]: no rate for destination {number}")
                seen[head] = rate
            found.append(rate)
        return found


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


@dataclass(frozen=True)
class RateRow:
    line: int
    prefix: str
    rate: Decimal
    description: str


@dataclass(frozen=True)
class RateLineError:
    """A refused line of a rates file: its number, the column at fault ("" the whole line),
    the value given and why."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        if not self.column:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, column {self.column}: {self.reason}"


def parse_rate_csv(lines: Iterable[str]) -> tuple[list[RateRow], list[RateLineError]]:
    """Rows `prefix,rate[,description]` (rate = USD per minute; a header line is skipped).
    Returns the good rows and one error per bad line, naming the line and the column."""
    import csv

    good: list[RateRow] = []
    errors: list[RateLineError] = []
    for line_no, cols in enumerate(csv.reader(lines), start=1):
        if not cols or all(not c.strip() for c in cols):
            continue
        prefix = cols[0].strip().lstrip("+")
        if line_no == 1 and not prefix.isdigit() and prefix.lower() in ("prefix", "code"):
            continue
        if len(cols) < 2:
            errors.append(
                RateLineError(line_no, "", ",".join(cols), "expected prefix,rate[,description]")
            )
            continue
        if prefix and not prefix.isdigit():
            errors.append(RateLineError(line_no, "prefix", cols[0], f"{cols[0]!r} is not digits"))
            continue
        if len(prefix) > 18:
            errors.append(RateLineError(line_no, "prefix", cols[0], "longer than 18 digits"))
            continue
        try:
            rate = Decimal(cols[1].strip())
        except ArithmeticError:
            errors.append(RateLineError(line_no, "rate", cols[1], f"{cols[1]!r} is not a number"))
            continue
        if not rate.is_finite() or rate < 0:
            errors.append(RateLineError(line_no, "rate", cols[1], "must be a non-negative number"))
            continue
        desc = cols[2].strip()[:128] if len(cols) > 2 else ""
        good.append(RateRow(line_no, prefix, rate, desc))
    return good, errors


async def import_rows(
    session: AsyncSession,
    account_id: int | None,
    rows: Iterable[RateRow],
    progress: Callable[[], None] | None = None,
) -> int:
    """Set every parsed row (account_id None: the platform list; an account must exist) and
    return how many were set; `progress` is called after each."""
    if account_id is not None:
        await accounts.get_account(session, account_id)
    count = 0
    for row in rows:
        await set_rate(session, account_id, row.prefix, row.rate, row.description)
        count += 1
        if progress is not None:
            progress()
    return count


async def rate_page(
    session: AsyncSession, account_id: int | None, page: int, size: int
) -> tuple[list[Rate], int]:
    """Page `page` (from 1) of a rate list ordered by prefix, and how many rates it holds."""
    owner = Rate.account_id.is_(None) if account_id is None else Rate.account_id == account_id
    total = await session.scalar(select(func.count()).select_from(Rate).where(owner)) or 0
    rows = await session.scalars(
        select(Rate).where(owner).order_by(Rate.prefix).offset((page - 1) * size).limit(size)
    )
    return list(rows), total
