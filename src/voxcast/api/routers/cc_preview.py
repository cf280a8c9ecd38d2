"""Call-center preview tasks: `/cc/preview/*` (api-catalog §5.3), callee lists uploaded as
spreadsheets and the tasks made from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from voxcast.api.base import page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.preview_requests import (
    PreviewEdit,
    PreviewParams,
    PreviewQuery,
    PreviewResend,
    PreviewSubmit,
    PreviewUpload,
)
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.services import preview

router = APIRouter(route_class=VendorRoute, tags=["call center"])


def _day(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(Code.TIME_FORMAT, f"params.{name}: must be yyyy-MM-dd") from None


@router.post("/cc/preview/upload", openapi_extra=envelope(Family.STATUS))
async def preview_upload(req: PreviewUpload, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A callee list (.xlsx, .xls or .csv, base64): the good rows are kept, bad rows are
    reported row by row (`errors`, a voxcast extension)."""
    # read before the transaction opens: no database connection waits on a slow file
    name = preview.base_name(req.fileName)  # a client's local path is cut to its last part
    sheet = await preview.read_upload(name, req.file, rt.settings)
    async with rt.sessions.begin() as session:
        data = await preview.upload(session, account.id, name, sheet, rt.clock.now(), rt.settings)
    return ok(Family.STATUS, data)


@router.post("/cc/preview/submitTask", openapi_extra=envelope(Family.STATUS))
async def preview_submit(req: PreviewSubmit, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A task from an uploaded list: each answered callee goes straight to an agent."""
    async with rt.sessions.begin() as session:
        task_id = await preview.submit(
            session, account.id, req.model_dump(exclude_unset=True), rt.clock.now()
        )
    return ok(Family.STATUS, task_id)


@router.post("/cc/preview/resendTask", openapi_extra=envelope(Family.STATUS))
async def preview_resend(req: PreviewResend, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Call a preview task's numbers again (failed, not called or all); `data` null."""
    async with rt.sessions.begin() as session:
        await preview.resend(
            session, account.id, req.model_dump(exclude_unset=True), rt.clock.now()
        )
    return ok(Family.STATUS)


@router.post("/cc/preview/agent/editTask", openapi_extra=envelope(Family.STATUS))
async def preview_edit(req: PreviewEdit, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change a preview task's remark or calls-per-agent rate; `data` null."""
    async with rt.sessions.begin() as session:
        await preview.edit(
            session, account.id, req.taskId, req.model_dump(exclude_unset=True), rt.clock.now()
        )
    return ok(Family.STATUS)


@router.post("/cc/preview/query", openapi_extra=envelope(Family.STATUS))
async def preview_query(req: PreviewQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A page of the account's preview tasks, filtered by day, id, status, type and group."""
    p = req.params or PreviewParams()
    async with rt.readonly() as session:
        rows, total = await preview.query(
            session,
            account.id,
            start=_day(p.startTime, "startTime"),
            end=_day(p.endTime, "endTime"),
            task_id=p.taskId,
            statuses=list(p.taskStatus or []),
            task_type=p.taskType,
            finished=p.finishFlag,
            group_ids=p.voiceGroupIds,
            current=req.current,
            size=req.size,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))
