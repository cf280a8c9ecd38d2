"""Single sends: voice OTP / notification (sendCode) and a file message to numbers (sendGroup)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from pydantic import Field, field_validator

from voxcast.api import voice_code
from voxcast.api.base import storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.api.schemas.common import AmdFields, CallAppId, MaxDuration, MaxRingingTime
from voxcast.api.voice_code import SendCode, optional_display
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskKind
from voxcast.services import voice

router = APIRouter(route_class=VendorRoute, tags=["voice messages"])

_DIGITS = re.compile(r"^[0-9]{7,15}$")
MAX_SEND_GROUP = 1000


class SendGroup(AmdFields):
    callee: str = Field(description="comma-separated numbers, at most 1000")
    displayNum: str | None = Field(
        default=None,
        description="Caller id shown to the callee (digits); empty or null: the line's default",
    )
    fileId: str = Field(
        min_length=1,
        max_length=64,
        description="Id of the uploaded voice file to play (fileUpload's answer)",
    )
    appId: CallAppId
    maxDuration: MaxDuration = None
    maxRingingTime: MaxRingingTime = 60
    loopCount: int = Field(
        default=1, ge=1, le=3, description="Times the prompt is played, 1-9 (default 1)"
    )
    calledInfo: str | None = Field(
        default=None,
        max_length=1000,
        description="Free text (at most 1000 characters) echoed in the call's status report",
    )

    _text = field_validator("*", mode="before")(storable_text)
    _display = field_validator("displayNum")(optional_display)


def _numbers(raw: str) -> list[str]:
    parts = [p.strip() for p in raw.replace(";", ",").split(",")]
    numbers = [p for p in parts if p]
    if not numbers:
        raise ApiError(Code.PHONE_EMPTY, "callee: no number given")
    if len(numbers) > MAX_SEND_GROUP:
        raise ApiError(
            Code.NUMBERS_OVER_LIMIT, f"callee: {len(numbers)} numbers, at most {MAX_SEND_GROUP}"
        )
    for i, n in enumerate(numbers):
        if not _DIGITS.match(n):
            # the global code table's -9 "Abnormal phone number", next to -7 and -8 above
            raise ApiError(Code.PHONE_INVALID, f"callee[{i}]: {n[:32]!r} must be 7-15 digits")
    return numbers


@router.post("/voice/sendCode", openapi_extra=envelope(Family.STATUS))
async def send_code(req: SendCode, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Call one number and speak `text` (voice OTP); `data` is the voiceId."""
    return ok(Family.STATUS, await voice_code.send(req, account, rt))


@router.post("/voice/sendGroup", openapi_extra=envelope(Family.STATUS))
async def send_group(req: SendGroup, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Call each number and play an uploaded file; `data` lists a voiceId per number."""
    numbers = _numbers(req.callee)
    send = voice.Send(
        kind=TaskKind.MESSAGE,
        app_id=req.appId,
        numbers=numbers,
        number_field="callee",
        display_num=req.displayNum,
        params=req.model_dump(exclude_none=True, exclude={"callee"}),
        voice_file_id=req.fileId,
        loop_count=req.loopCount,
        max_duration=req.maxDuration,
        max_ringing_time=req.maxRingingTime,
        called_info=req.calledInfo,
    )
    async with rt.sessions.begin() as session:
        voice_ids = await voice.submit(session, account, send, rt.clock.now())
    return ok(
        Family.STATUS,
        [
            {"voiceId": vid, "callee": n, "terminationCode": "0", "terminationReason": "success"}
            for vid, n in zip(voice_ids, numbers, strict=True)
        ],
    )
