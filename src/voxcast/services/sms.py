"""SMS use cases: texts taken in (sendSms; hangUpSms and script texts, queued by the dialer's
recorder), claimed by senders, settled by receipts,
and queried (getReport, getSentRcd). The sending loop itself is `voxcast.messaging.sender`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.compliance import dnc
from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.storage import leases
from voxcast.storage.models import SmsMessage

PENDING, SUBMITTED, DELIVERED, FAILED, REJECTED = (
    "pending",
    "submitted",
    "delivered",
    "failed",
    "rejected",
)
#: where a message came from: sendSms, a task's hangUpSms, a robot script's `sms` action
API, HANGUP, SCRIPT = "api", "hangup", "script"
MAX_CONTENT = 1024
MAX_SENDER = 32
MAX_ORDER_ID = 64
#: numbers per sendSms: the vendor's limits for a GET and a POST
GET_LIMIT, POST_LIMIT = 100, 1000
#: why a number listed on a do-not-call list was not sent (the stat of a claimed one)
DNC_STAT = "DNC"


@dataclass(frozen=True)
class SmsOrder:
    """One sendSms request (or one element of a batch): numbers, text, sender, order ids."""

    numbers: str
    content: str | None
    sender_id: str | None = None
    order_ids: str | None = None


@dataclass(frozen=True)
class Accepted:
    msg_id: str
    number: str
    order_id: str | None


@dataclass
class SendResult:
    accepted: list[Accepted]
    failed: int


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def check_order(order: SmsOrder, *, limit: int, where: str = "") -> list[tuple[str, str | None]]:
    """The (number, orderId) pairs of a valid order; a bad field raises its vendor code."""
    content = order.content or ""
    if not content.strip():
        raise ApiError(Code.SMS_CONTENT_EMPTY, f"{where}content: is empty")
    if len(content) > MAX_CONTENT:
        raise ApiError(
            Code.SMS_TOO_LONG, f"{where}content: {len(content)} characters, at most {MAX_CONTENT}"
        )
    if order.sender_id is not None and len(order.sender_id) > MAX_SENDER:
        raise ApiError(Code.PARAMETER, f"{where}senderId: at most {MAX_SENDER} characters")
    numbers = _split(order.numbers)
    if not numbers:
        raise ApiError(Code.PHONE_EMPTY, f"{where}numbers: is empty")
    if len(numbers) > limit:
        raise ApiError(
            Code.NUMBERS_OVER_LIMIT, f"{where}numbers: {len(numbers)} numbers, at most {limit}"
        )
    order_ids: list[str | None] = [None] * len(numbers)
    if order.order_ids is not None and order.order_ids.strip():
        given = [part.strip() for part in order.order_ids.split(",")]
        if len(given) != len(numbers):
            raise ApiError(
                Code.PARAMETER,
                f"{where}orderId: one per number ({len(numbers)} numbers, {len(given)} orderIds)",
            )
        if any(len(o) > MAX_ORDER_ID for o in given):
            raise ApiError(
                Code.PARAMETER, f"{where}orderId: at most {MAX_ORDER_ID} characters each"
            )
        order_ids = [o or None for o in given]
    return list(zip(numbers, order_ids, strict=True))


def _dialable(number: str) -> str | None:
    """The number in digits (a leading + dropped), or None when it is not 7-15 digits."""
    digits = number.removeprefix("+")
    if digits.isdigit() and 7 <= len(digits) <= 15:
        return digits
    return None


async def send(
    session: AsyncSession,
    *,
    account_id: int,
    app_id: str,
    orders: Sequence[SmsOrder],
    limit: int,
    now: datetime,
) -> SendResult:
    """Validate every order (a bad field refuses the whole request), then store one pending
    message per good number. A malformed number or one on a do-not-call list counts in `fail`
    and is not sent."""
    checked = [
        (order, check_order(order, limit=limit, where=f"array[{i}]." if len(orders) > 1 else ""))
        for i, order in enumerate(orders)
    ]
    result = SendResult([], 0)
    wanted: list[tuple[str, str | None, SmsOrder]] = []
    for order, pairs in checked:
        for number, order_id in pairs:
            digits = _dialable(number)
            if digits is None:
                result.failed += 1
            else:
                wanted.append((digits, order_id, order))
    blocked = await dnc.listed(session, account_id, app_id, {n for n, _, _ in wanted})
    rows: list[SmsMessage] = []
    for number, order_id, order in wanted:
        if number in blocked:
            result.failed += 1
            continue
        msg_id = ids.sms_msg_id(now)
        rows.append(
            SmsMessage(
                msg_id=msg_id,
                account_id=account_id,
                app_id=app_id,
                origin=API,
                order_id=order_id,
                sender_id=order.sender_id or None,
                number=number,
                content=order.content or "",
                trigger="api",
                send_at=now,
                status=PENDING,
                created_at=now,
            )
        )
        result.accepted.append(Accepted(msg_id, number, order_id))
    session.add_all(rows)
    await session.flush()
    return result


# --- the sender's side -------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A message one sender holds until `lease`: submit it, then record the outcome."""

    msg_id: str
    number: str
    sender: str
    text: str


@dataclass(frozen=True)
class Outcome:
    """A message's final state, as its delivery report push tells it."""

    msg_id: str
    account_id: int
    app_id: str | None
    number: str
    order_id: str | None
    delivered: bool
    stat: str
    segments: int
    at: datetime


_OUTCOME_COLUMNS = (
    SmsMessage.msg_id,
    SmsMessage.account_id,
    SmsMessage.app_id,
    SmsMessage.number,
    SmsMessage.order_id,
    SmsMessage.status,
    SmsMessage.stat,
    SmsMessage.segments,
    SmsMessage.receive_time,
    SmsMessage.submitted_at,
)


def _outcome(row: Any) -> Outcome:
    return Outcome(
        msg_id=row.msg_id,
        account_id=row.account_id,
        app_id=row.app_id,
        number=row.number,
        order_id=row.order_id,
        delivered=row.status == DELIVERED,
        stat=row.stat or "",
        segments=int(row.segments or 0),
        at=row.receive_time,
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, wall: datetime, lease: datetime, limit: int
) -> tuple[list[Claimed], list[Outcome]]:
    """Lease pending messages due at `now` (the clock) that no live lease holds (`wall`).

    Any number of senders may share one database: rows are locked (SKIP LOCKED on
    PostgreSQL; SQLite serialises writers) and taken by a guarded UPDATE, so one message is
    held by one sender at a time. Numbers put on a do-not-call list since the message was
    queued (a key pressed during the call) are refused here: the second list returned.
    """
    rows = list(
        (
            await session.scalars(
                select(SmsMessage)
                .where(
                    SmsMessage.status == PENDING,
                    SmsMessage.send_at <= now,
                    or_(SmsMessage.lease_until.is_(None), SmsMessage.lease_until < wall),
                )
                .order_by(SmsMessage.send_at, SmsMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if not rows:
        return [], []
    taken = await leases.take(
        session, SmsMessage, [r.id for r in rows], SmsMessage.status, PENDING, wall, lease
    )
    rows = [r for r in rows if r.id in taken]
    groups: dict[tuple[int, str], list[SmsMessage]] = defaultdict(list)
    for r in rows:
        groups[(r.account_id, r.app_id or "")].append(r)
    blocked: set[str] = set()
    for (account_id, app_id), members in groups.items():
        hit = await dnc.listed(session, account_id, app_id, {m.number for m in members})
        blocked.update(m.msg_id for m in members if m.number in hit)
    refused: list[Outcome] = []
    for msg_id in sorted(blocked):
        outcome = await settle_rejected(session, msg_id, lease, DNC_STAT, now)
        if outcome is not None:
            refused.append(outcome)
    claimed = [
        Claimed(r.msg_id, r.number, r.sender_id or "", r.content)
        for r in rows
        if r.msg_id not in blocked
    ]
    return claimed, refused


async def mark_submitted(
    session: AsyncSession,
    msg_id: str,
    lease: datetime,
    segments: int,
    at: datetime,
    carrier_ids: Sequence[str] = (),
) -> tuple[bool, Outcome | None]:
    """The carrier took the message (its segments had `carrier_ids`). Returns whether the
    lease still held, and the outcome when the receipt came first (a fast SMSC, or a receipt
    on another worker's bind): the report is then complete and is pushed now, by whichever of
    the two writes came second."""
    row = (
        await session.execute(
            update(SmsMessage)
            .where(SmsMessage.msg_id == msg_id, SmsMessage.lease_until == lease)
            .values(
                segments=segments,
                carrier_ids=list(carrier_ids) or None,
                submitted_at=at,
                lease_until=None,
                status=case((SmsMessage.status == PENDING, SUBMITTED), else_=SmsMessage.status),
            )
            .returning(*_OUTCOME_COLUMNS)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return False, None
    return True, (_outcome(row) if row.status in (DELIVERED, FAILED) else None)


async def settle_rejected(
    session: AsyncSession, msg_id: str, lease: datetime, reason: str, at: datetime
) -> Outcome | None:
    """The carrier (or a do-not-call list) refused the message for good."""
    row = (
        await session.execute(
            update(SmsMessage)
            .where(
                SmsMessage.msg_id == msg_id,
                SmsMessage.lease_until == lease,
                SmsMessage.status == PENDING,
            )
            .values(status=REJECTED, stat=reason[:64], receive_time=at, lease_until=None)
            .returning(*_OUTCOME_COLUMNS)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None else _outcome(row)


async def release(session: AsyncSession, msg_ids: Sequence[str], lease: datetime) -> None:
    """Give messages back (the transport is down): any sender takes them on a later pass."""
    if msg_ids:
        await session.execute(
            update(SmsMessage)
            .where(SmsMessage.msg_id.in_(list(msg_ids)), SmsMessage.lease_until == lease)
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )


async def settle_receipt(
    session: AsyncSession, msg_id: str, delivered: bool, stat: str, at: datetime
) -> Outcome | None:
    """A delivery report: the message's final state, once (a repeated receipt is ignored).
    The outcome to push is returned only when the submit is already recorded (see
    `mark_submitted`)."""
    row = (
        await session.execute(
            update(SmsMessage)
            .where(SmsMessage.msg_id == msg_id, SmsMessage.status.in_([PENDING, SUBMITTED]))
            .values(status=DELIVERED if delivered else FAILED, stat=stat[:64], receive_time=at)
            .returning(*_OUTCOME_COLUMNS)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None or row.submitted_at is None else _outcome(row)


async def awaiting_receipts(
    session: AsyncSession, *, since: datetime
) -> list[tuple[str, tuple[str, ...]]]:
    """(msg_id, carrier ids) of the messages submitted since `since` whose receipt has not
    come: what a sender re-arms its transport with at start (see `SmsTransport.expect`)."""
    rows = await session.execute(
        select(SmsMessage.msg_id, SmsMessage.carrier_ids)
        .where(
            SmsMessage.status == SUBMITTED,
            SmsMessage.carrier_ids.is_not(None),
            SmsMessage.submitted_at >= since,
        )
        .order_by(SmsMessage.id)
    )
    return [(row.msg_id, tuple(row.carrier_ids)) for row in rows if row.carrier_ids]


def report_push_json(outcome: Outcome) -> dict[str, Any]:
    """The SMS delivery report push (catalog §4.6). No SMS rate exists: prices are 0."""
    return {
        "appId": outcome.app_id or "",
        "msgid": outcome.msg_id,
        "mobile": outcome.number,
        "status": 0 if outcome.delivered else 1,
        "reason": "0" if outcome.delivered else outcome.stat,
        "timestamp": int(outcome.at.timestamp() * 1000),
        "orderId": outcome.order_id or "",
        "mcc": "-1",
        "mnc": "-1",
        "pricedetail": {
            "pay": "0",
            "currency": "USD",
            "chargeCnt": outcome.segments,
            "price": "0",
        },
    }


# --- queries -----------------------------------------------------------------------------

#: getReport's status of one message: delivered, failed (refused included), still sending
REPORT_DELIVERED, REPORT_FAILED, REPORT_SENDING = 0, 1, -1
MAX_REPORT_IDS = 200
SENT_RECORD_DAYS = 90
SENT_RECORD_WINDOW_DAYS = 31
SENT_RECORD_PAGE = 100


def report_status(status: str) -> int:
    if status == DELIVERED:
        return REPORT_DELIVERED
    if status in (FAILED, REJECTED):
        return REPORT_FAILED
    return REPORT_SENDING


async def by_msg_ids(
    session: AsyncSession, account_id: int, app_id: str, msg_ids: Sequence[str]
) -> list[SmsMessage]:
    """The app's messages among `msg_ids` (another account's are not found)."""
    if not msg_ids:
        return []
    rows = await session.scalars(
        select(SmsMessage).where(
            SmsMessage.account_id == account_id,
            SmsMessage.app_id == app_id,
            SmsMessage.msg_id.in_(list(msg_ids)),
        )
    )
    return list(rows.all())


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """getSentRcd's rules: at most 31 days per query, within the last 90 days."""
    if end < start:
        raise ApiError(Code.TIME_FORMAT, "endTime: before startTime")
    if end - start > timedelta(days=SENT_RECORD_WINDOW_DAYS):
        raise ApiError(
            Code.OUT_OF_TIME_RANGE, f"startTime..endTime: at most {SENT_RECORD_WINDOW_DAYS} days"
        )
    if start < now - timedelta(days=SENT_RECORD_DAYS):
        raise ApiError(Code.OUT_OF_TIME_RANGE, f"startTime: at most {SENT_RECORD_DAYS} days back")


async def sent_records(
    session: AsyncSession,
    account_id: int,
    app_id: str,
    start: datetime,
    end: datetime,
    offset: int,
    limit: int = SENT_RECORD_PAGE,
) -> tuple[int, list[SmsMessage]]:
    """The app's messages created in [start, end], oldest first, a page from `offset`."""
    where = (
        SmsMessage.account_id == account_id,
        SmsMessage.app_id == app_id,
        SmsMessage.created_at >= start,
        SmsMessage.created_at <= end,
    )
    total = int(
        await session.scalar(select(func.count()).select_from(SmsMessage).where(*where)) or 0
    )
    rows = await session.scalars(
        select(SmsMessage).where(*where).order_by(SmsMessage.id).offset(offset).limit(limit)
    )
    return total, list(rows.all())


async def list_messages(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    task_id: int | None = None,
    limit: int = 100,
) -> list[SmsMessage]:
    query = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(SmsMessage.account_id == account_id)
    if task_id is not None:
        query = query.where(SmsMessage.task_id == task_id)
    return list((await session.scalars(query)).all())
