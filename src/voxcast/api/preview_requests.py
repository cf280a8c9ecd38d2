"""The request bodies of `/cc/preview/*` (api-catalog §5.3), apart from their router so the
console checks its preview form with the very same models (and words refusals alike)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from voxcast.api.base import Id, PageQuery, VendorModel, storable_text

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


class _PreviewCalling(VendorModel):
    """How a preview task's numbers are called: the fields submit and resend share."""

    type: Literal[0, 1] = Field(
        description="0 automatic call by agents, 1 group call transferred to agents"
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


class PreviewSubmit(_PreviewCalling):
    filePath: Text = Field(
        min_length=1, max_length=128, description="filePath from preview/upload's answer"
    )
    fileName: Text = Field(min_length=1, max_length=64, description="The uploaded file's name")
    voiceGroupId: list[Id] = Field(
        min_length=1,
        max_length=50,
        description="Agent groups that take the calls (exactly one with type=1)",
    )


class PreviewResend(_PreviewCalling):
    taskId: Id = Field(description="Id of the preview task to call again")
    resendType: Literal[1, 2, 3] = Field(
        description="Numbers called again: 1 failed, 2 not called, 3 all"
    )
    voiceGroupId: list[Id] | None = Field(
        default=None,
        max_length=50,
        description="Agent groups that take the calls (exactly one with type=1)",
    )


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
