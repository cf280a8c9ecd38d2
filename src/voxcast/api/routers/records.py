"""Call record queries: one record by voiceId, and a paged query over a time window."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field

from voxcast.api.base import Id, VendorModel, page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.services import records

router = APIRouter(route_class=VendorRoute, tags=["records"])


class RecordParams(VendorModel):
    strTime: str = Field(min_length=1, description="ISO-8601 with offset")
    endTime: str = Field(min_length=1, description="ISO-8601 with offset")
    taskId: Id | None = Field(default=None, description="voxcast extension: one task only")


class RecordQuery(VendorModel):
    current: int = Field(default=1, ge=1, le=10_000_000, description="Page number, from 1")
    size: int = Field(default=25, ge=1, le=100, description="Page size, 1-100")
    # optional so a body without it is answered -22 naming params.strTime, like a params
    # object without strTime
    params: RecordParams | None = Field(
        default=None, description="The time window of the query and its filters"
    )


@router.get("/voice/recordGroup/{voiceId}", openapi_extra=envelope(Family.STATUS))
async def record_group(
    voiceId: Annotated[str, Path(description="Id of the call (sendCode's or sendGroup's voiceId)")],
    account: CurrentAccount,
    rt: Rt,
) -> dict[str, Any]:
    """One call record (group call or verification code) by its voiceId."""
    voice_id = records.voice_id_of_path(voiceId)
    async with rt.readonly() as session:
        data = await records.get_record(session, account.id, voice_id)
    return ok(Family.STATUS, data)


@router.post("/voice/recordGroupQuery", openapi_extra=envelope(Family.STATUS))
async def record_group_query(req: RecordQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Records submitted within a window of at most 31 days, oldest first."""
    if req.params is None:
        raise ApiError(Code.PARAMETER, "params.strTime: is required")
    start = records.parse_time(req.params.strTime, "params.strTime")
    end = records.parse_time(req.params.endTime, "params.endTime")
    async with rt.readonly() as session:
        rows, total = await records.query_records(
            session,
            account.id,
            start=start,
            end=end,
            current=req.current,
            size=req.size,
            task_id=req.params.taskId,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))
