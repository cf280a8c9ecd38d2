"""Call-center records: `/cc/record/query` (and the older `/voice/ccRecordQuery`), §3."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BeforeValidator, Field

from voxcast.api.base import Id, PageQuery, VendorModel, page_body, storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.services import ccrecords, records

router = APIRouter(route_class=VendorRoute, tags=["call center"])

Text = Annotated[str, BeforeValidator(storable_text)]


class CcRecordParams(VendorModel):
    startTime: Text = Field(
        min_length=1,
        description=(
            "Start of the window: yyyy-MM-dd HH:mm:ss (UTC+8) or ISO-8601 with "
            "offset; at most 31 days"
        ),
    )
    endTime: Text = Field(
        min_length=1, description="End of the window, in the same form as startTime"
    )
    voiceGroupId: Id | None = Field(default=None, description="Agent group to filter on")
    sipGroupName: Text | None = Field(
        default=None, max_length=32, description="Agent group name to filter on"
    )
    seatId: list[Id] | None = Field(
        default=None, max_length=500, description="Agent ids to filter on, at most 500"
    )
    seatNameList: list[Annotated[Text, Field(max_length=64)]] | None = Field(
        default=None, max_length=500, description="Agent accounts to filter on"
    )
    callType: list[Literal[1, 2, 3]] | None = Field(
        default=None,
        description="Call types: 1 group call transferred to an agent, 2 incoming, 3 outgoing",
    )
    hangupReason: list[Annotated[int, Field(ge=0, le=9)]] | None = Field(
        default=None,
        max_length=10,
        description="Hang-up reasons (0-9, the vendor's hangupReason table) to filter on",
    )
    calledOrCaller: Text | None = Field(
        default=None, max_length=32, description="Number that called or was called"
    )
    ccode: list[Annotated[Text, Field(max_length=4)]] | None = Field(
        default=None, max_length=50, description="Country calling codes to filter on"
    )
    hangingDirection: list[Literal[0, 1, 3]] | None = Field(
        default=None, description="Who hung up: 0 customer, 1 agent, 3 system"
    )
    labelNames: list[Annotated[Text, Field(max_length=20)]] | None = Field(
        default=None, max_length=10, description="Call labels to filter on"
    )


class CcRecordQuery(PageQuery):
    params: CcRecordParams = Field(description="Filters; startTime and endTime are required")


@router.post("/cc/record/query", openapi_extra=envelope(Family.STATUS))
@router.post("/voice/ccRecordQuery", openapi_extra=envelope(Family.STATUS), include_in_schema=False)
async def query_cc_records(req: CcRecordQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Call-center records started in a window of at most 31 days, newest first.

    A window without an offset is read in UTC+8, the zone the records are shown in."""
    p = req.params
    start = records.parse_time(p.startTime, "params.startTime", ccrecords.VENDOR_ZONE)
    end = records.parse_time(p.endTime, "params.endTime", ccrecords.VENDOR_ZONE)
    async with rt.readonly() as session:
        rows, total = await ccrecords.query(
            session,
            account.id,
            start=start,
            end=end,
            group_id=p.voiceGroupId,
            group_name=p.sipGroupName,
            agent_ids=p.seatId,
            agent_names=p.seatNameList,
            call_types=list(p.callType or []),
            hangup_reasons=p.hangupReason,
            number=p.calledOrCaller,
            directions=list(p.hangingDirection or []),
            ccodes=p.ccode,
            labels=p.labelNames,
            current=req.current,
            size=req.size,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))
