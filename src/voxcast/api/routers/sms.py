"""SMS endpoints: sendSms (GET and POST), sendSms/batch, getReport and getSentRcd, also under
`/sms/` as itniotech serves them. Fields sit at the top level, as the balance's do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field, StringConstraints

from voxcast.api.base import STORABLE_PATTERN, VendorModel
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.services import accounts, records, sms

router = APIRouter(route_class=VendorRoute, tags=["sms"])
SMS = envelope(Family.BALANCE)
#: no NUL characters (PostgreSQL cannot store them): -22 naming the field
Text = Annotated[str, StringConstraints(pattern=STORABLE_PATTERN)]
AppId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=STORABLE_PATTERN)]
QText = Annotated[str | None, Query(pattern=STORABLE_PATTERN)]
QAppId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=32,
        pattern=STORABLE_PATTERN,
        description="SMS application id, one of the calling account's",
    ),
]


class SmsItem(VendorModel):
    numbers: Text | None = Field(default=None, description="comma-separated, digits only")
    content: Text | None = Field(default=None, description="at most 1024 characters")
    senderId: Text | None = Field(default=None, description="at most 32 characters")
    orderId: Text | None = Field(default=None, description="comma-separated, one per number")


class SendSms(SmsItem):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )


class SendSmsBatch(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    array: list[SmsItem] = Field(
        min_length=1,
        max_length=sms.POST_LIMIT,
        description=(
            "Messages, each {numbers, content, senderId, orderId}; at most 1000 numbers in all"
        ),
    )


def _order(item: SmsItem) -> sms.SmsOrder:
    return sms.SmsOrder(item.numbers or "", item.content, item.senderId, item.orderId)


async def _send(
    account_id: int, app_id: str, orders: list[sms.SmsOrder], limit: int, rt: Rt
) -> dict[str, Any]:
    async with rt.sessions.begin() as session:
        await accounts.require_app(session, account_id, app_id)
        result = await sms.send(
            session,
            account_id=account_id,
            app_id=app_id,
            orders=orders,
            limit=limit,
            now=rt.clock.now(),
        )
    return ok(
        Family.BALANCE,
        {
            "success": str(len(result.accepted)),
            "fail": str(result.failed),
            "array": [
                {"msgId": a.msg_id, "number": a.number, "orderId": a.order_id or ""}
                for a in result.accepted
            ],
        },
    )


@router.get("/sendSms", openapi_extra=SMS)
@router.get("/sms/sendSms", openapi_extra=SMS, include_in_schema=False)
async def send_sms_get(
    account: CurrentAccount,
    rt: Rt,
    appId: QAppId,
    numbers: Annotated[QText, Query(description="Numbers, comma-separated, digits only")] = None,
    content: Annotated[QText, Query(description="Text of the message, URL-encoded")] = None,
    senderId: Annotated[QText, Query(description="Sender id, at most 32 characters")] = None,
    orderId: Annotated[
        QText, Query(description="Caller's own ids, comma-separated, one per number")
    ] = None,
) -> dict[str, Any]:
    """Send one text to up to 100 numbers (query parameters, content URL-encoded)."""
    order = sms.SmsOrder(numbers or "", content, senderId, orderId)
    return await _send(account.id, appId, [order], sms.GET_LIMIT, rt)


@router.post("/sendSms", openapi_extra=SMS)
@router.post("/sms/sendSms", openapi_extra=SMS, include_in_schema=False)
async def send_sms(req: SendSms, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Send one text to up to 1000 numbers; a msgId per accepted number."""
    return await _send(account.id, req.appId, [_order(req)], sms.POST_LIMIT, rt)


@router.post("/sendSms/batch", openapi_extra=SMS)
@router.post("/sms/sendSms/batch", openapi_extra=SMS, include_in_schema=False)
async def send_sms_batch(req: SendSmsBatch, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Several texts at once (up to 1000 numbers in all); answered like sendSms."""
    orders = [_order(item) for item in req.array]
    total = sum(len([n for n in o.numbers.split(",") if n.strip()]) for o in orders)
    if total > sms.POST_LIMIT:
        raise ApiError(
            Code.NUMBERS_OVER_LIMIT, f"array: {total} numbers in all, at most {sms.POST_LIMIT}"
        )
    return await _send(account.id, req.appId, orders, sms.POST_LIMIT, rt)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


@router.get("/getReport", openapi_extra=SMS)
@router.get("/sms/getReport", openapi_extra=SMS, include_in_schema=False)
async def get_report(
    account: CurrentAccount,
    rt: Rt,
    appId: QAppId,
    msgIds: Annotated[QText, Query(description="Message ids, comma-separated, at most 200")] = None,
) -> dict[str, Any]:
    """The state of up to 200 messages: status 0 delivered, 1 failed, -1 still sending."""
    wanted = list(dict.fromkeys(m.strip() for m in (msgIds or "").split(",") if m.strip()))
    if not wanted:
        raise ApiError(Code.QUERY_ID, "msgIds: is empty")
    if len(wanted) > sms.MAX_REPORT_IDS:
        raise ApiError(Code.CAPS, f"msgIds: {len(wanted)} ids, at most {sms.MAX_REPORT_IDS}")
    async with rt.readonly() as session:
        await accounts.require_app(session, account.id, appId)
        found = {m.msg_id: m for m in await sms.by_msg_ids(session, account.id, appId, wanted)}
    array = []
    counts = {sms.REPORT_DELIVERED: 0, sms.REPORT_FAILED: 0, sms.REPORT_SENDING: 0}
    for msg_id in wanted:
        message = found.get(msg_id)
        if message is None:
            continue
        status = sms.report_status(message.status)
        counts[status] += 1
        array.append(
            {
                "msgId": message.msg_id,
                "number": message.number,
                "receiveTime": _iso(message.receive_time),
                "status": status,
            }
        )
    return ok(
        Family.BALANCE,
        {
            "success": str(counts[sms.REPORT_DELIVERED]),
            "fail": str(counts[sms.REPORT_FAILED]),
            "sending": str(counts[sms.REPORT_SENDING]),
            "nofound": str(len(wanted) - len(array)),
            "array": array,
        },
    )


@router.get("/getSentRcd", openapi_extra=SMS)
@router.get("/sms/getSentRcd", openapi_extra=SMS, include_in_schema=False)
async def get_sent_records(
    account: CurrentAccount,
    rt: Rt,
    appId: QAppId,
    startTime: Annotated[
        str,
        Query(
            max_length=64,
            pattern=STORABLE_PATTERN,
            description="Start of the window (at most 31 days, within the last 90)",
        ),
    ],
    endTime: Annotated[
        str, Query(max_length=64, pattern=STORABLE_PATTERN, description="End of the window")
    ],
    startIndex: Annotated[
        int, Query(ge=0, le=10_000_000, description="Index of the first message, 100 per page")
    ] = 0,
) -> dict[str, Any]:
    """Messages sent in a window of at most 31 days within the last 90, 100 per page from
    `startIndex`, oldest first."""
    start = records.parse_time(startTime, "startTime")
    end = records.parse_time(endTime, "endTime")
    sms.check_window(start, end, rt.clock.now())
    async with rt.readonly() as session:
        await accounts.require_app(session, account.id, appId)
        total, rows = await sms.sent_records(session, account.id, appId, start, end, startIndex)
    statuses = [sms.report_status(m.status) for m in rows]
    return ok(
        Family.BALANCE,
        {
            "success": str(statuses.count(sms.REPORT_DELIVERED)),
            "fail": str(statuses.count(sms.REPORT_FAILED)),
            "total": str(total),
            "array": [
                {
                    "msgId": m.msg_id,
                    "number": m.number,
                    "orderId": m.order_id or "",
                    "senderId": m.sender_id or "",
                    "content": m.content,
                    "sendTime": _iso(m.submitted_at),
                    "receiveTime": _iso(m.receive_time),
                    "status": status,
                    "chargeCnt": m.segments or 0,
                }
                for m, status in zip(rows, statuses, strict=True)
            ],
        },
    )
