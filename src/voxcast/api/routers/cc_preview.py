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
    fileName: Text = Field(
        min_length=5,
        max_length=32,
        description="Excel file name with its extension (.xls, .xlsx), 5-32 characters",
    )
    file: str = Field(min_length=1, description="The Excel file, base64; at most 100,000 rows")


def _rate(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 100:
        raise ValueError("must be 1-100")
    return value


class PreviewSubmit(VendorModel):
    filePath: Text = Field(
        min_length=1, max_length=128, description="filePath from preview/upload's answer"
    )
    fileName: Text = Field(min_length=1, max_length=64, description="The uploaded file's name")
    type: Literal[0, 1] = Field(
        description="0 automatic call by agents, 1 group call transferred to agents"
    )
    voiceGroupId: list[Id] = Field(
        min_length=1,
        max_length=50,
        description="Agent groups that take the calls (exactly one with type=1)",
    )
    appId: Text | None = Field(
        default=None, max_length=32, description="Voice application id; with type=1"
    )
    calloutRate: int | None = Field(
        default=None, description="Calls placed per idle agent; with type=1"
    )
    displayNum: Annotated[
        str | None, Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z]*$")
    ] = Field(description="Caller id, at most 20 letters and digits")
    ccode: Text | None = Field(
        default=None,
        max_length=4,
        description="Country calling code of the numbers, at most 4 digits",
    )
    remark: Text | None = Field(
        default=None, max_length=255, description="Free-text remark, at most 255 characters"
    )

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewResend(VendorModel):
    taskId: Id = Field(description="Id of the preview task to call again")
    resendType: Literal[1, 2, 3] = Field(
        description="Numbers called again: 1 failed, 2 not called, 3 all"
    )
    type: Literal[0, 1] = Field(
        description="0 automatic call by agents, 1 group call transferred to agents"
    )
    voiceGroupId: list[Id] | None = Field(
        default=None,
        max_length=50,
        description="Agent groups that take the calls (exactly one with type=1)",
    )
    appId: Text | None = Field(
        default=None, max_length=32, description="Voice application id; with type=1"
    )
    calloutRate: int | None = Field(
        default=None, description="Calls placed per idle agent; with type=1"
    )
    displayNum: Annotated[
        str | None, Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z]*$")
    ] = Field(description="Caller id, at most 20 letters and digits")
    ccode: Text | None = Field(
        default=None,
        max_length=4,
        description="Country calling code of the numbers, at most 4 digits",
    )
    remark: Text | None = Field(
        default=None, max_length=255, description="Free-text remark, at most 255 characters"
    )

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewEdit(VendorModel):
    taskId: Id = Field(description="Id of the preview task to change")
    remark: Text | None = Field(
        default=None, max_length=255, description="Free-text remark, at most 255 characters"
    )
    calloutRate: int | None = Field(default=None, description="New calls-per-idle-agent rate")

    _check_rate = field_validator("calloutRate")(_rate)


class PreviewParams(VendorModel):
    startTime: Text | None = Field(
        default=None, description="First creation day to list (yyyy-MM-dd)"
    )
    endTime: Text | None = Field(default=None, description="Last creation day to list (yyyy-MM-dd)")
    taskId: Id | None = Field(default=None, description="A task id to filter on")
    taskStatus: list[Literal[1, 2, 11, 12, 13, 14, 15, 16]] | None = Field(
        default=None,
        description=(
            "Statuses: 1 enabled, 2 disabled, 11 calling, 12 completed, 13 submit "
            "failed, 14 canceled, 15 suspended, 16 submitting"
        ),
    )
    taskType: Literal[0, 1] | None = Field(
        default=None, description="0 automatic call, 1 group call to agents"
    )
    finishFlag: Literal[0, 1] | None = Field(
        default=None, description="1 finished tasks only, 0 unfinished only"
    )
    voiceGroupIds: list[Id] | None = Field(
        default=None, max_length=50, description="Agent groups to filter on, at most 50"
    )


class PreviewQuery(PageQuery):
    params: PreviewParams | None = Field(default=None, description="Filters of the query")


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
