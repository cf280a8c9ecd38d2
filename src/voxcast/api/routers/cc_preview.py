"""Call-center preview tasks: `/cc/preview/*` (api-catalog §5.3), callee lists uploaded as
spreadsheets and the tasks made from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BeforeValidator, Field, field_validator

from voxcast.api.base import Id, PageQuery, VendorModel, page_body, storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import RESEND_STATUS, ApiError, Code
from voxcast.domain.task_states import IllegalTransition
from voxcast.services import preview

router = APIRouter(route_class=VendorRoute, tags=["call center"])

Text = Annotated[str, BeforeValidator(storable_text)]


class PreviewUpload(VendorModel):
    fileName: Text = Field(min_length=5, max_length=32)
    file: str = Field(min_length=1)


def _rate(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 100:
        raise ValueError("must be 1-100")
    return value


class PreviewSubmit(VendorModel):
    filePath: Text = Field(min_length=1, max_length=128)
    fileName: Text = Field(min_length=1, max_length=64)
    type: Literal[0, 1]
    voiceGroupId: list[Id] = Field(min_length=1, max_length=50)
    appId: Text | None = Field(default=None, max_length=32)
    calloutRate: int | None = None
    displayNum: Annotated[str | None, Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z]*$")]
    ccode: Text | None = Field(default=None, max_length=4)
    remark: Text | None = Field(default=None, max_length=255)

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewResend(VendorModel):
    taskId: Id
    resendType: Literal[1, 2, 3]
    type: Literal[0, 1]
    voiceGroupId: list[Id] | None = Field(default=None, max_length=50)
    appId: Text | None = Field(default=None, max_length=32)
    calloutRate: int | None = None
    displayNum: Annotated[str | None, Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z]*$")]
    ccode: Text | None = Field(default=None, max_length=4)
    remark: Text | None = Field(default=None, max_length=255)

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewEdit(VendorModel):
    taskId: Id
    remark: Text | None = Field(default=None, max_length=255)
    calloutRate: int | None = None

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewParams(VendorModel):
    startTime: Text | None = None
    endTime: Text | None = None
    taskId: Id | None = None
    taskStatus: list[Literal[1, 2, 11, 12, 13, 14, 15, 16]] | None = None
    taskType: Literal[0, 1] | None = None
    finishFlag: Literal[0, 1] | None = None
    voiceGroupIds: list[Id] | None = Field(default=None, max_length=50)


class PreviewQuery(PageQuery):
    params: PreviewParams | None = None


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
    try:
        async with rt.sessions.begin() as session:
            await preview.resend(
                session, account.id, req.model_dump(exclude_unset=True), rt.clock.now()
            )
    except IllegalTransition:
        raise ApiError(
            Code.TASK_NAME_EXISTS,
            "taskId: only a completed or canceled task is resent",
            title=RESEND_STATUS,
        ) from None
    return ok(Family.STATUS)


@router.post("/cc/preview/agent/editTask", openapi_extra=envelope(Family.STATUS))
async def preview_edit(req: PreviewEdit, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    async with rt.sessions.begin() as session:
        await preview.edit(
            session, account.id, req.taskId, req.model_dump(exclude_unset=True), rt.clock.now()
        )
    return ok(Family.STATUS)


@router.post("/cc/preview/query", openapi_extra=envelope(Family.STATUS))
async def preview_query(req: PreviewQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
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
