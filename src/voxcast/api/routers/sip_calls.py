"""Click-to-call: make a SIP phone (a call-center seat) call a number (voice/sendSip), and its
records (voice/recordSip/{voiceId}, voice/recordSipQuery)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, field_validator

from voxcast.api.base import Phone, VendorModel, page_body, storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routers.voice import _optional_display
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.services import records, sipcalls

router = APIRouter(route_class=VendorRoute, tags=["SIP phones"])


class SendSip(VendorModel):
    callee: Phone
    displayNum: str | None = None
    account: str = Field(min_length=1, max_length=64, description="the phone's (seat's) account")
    appId: str = Field(min_length=1, max_length=32)
    calledInfo: str | None = Field(default=None, max_length=1000)

    _text = field_validator("*", mode="before")(storable_text)
    _display = field_validator("displayNum")(_optional_display)


class SipRecordParams(VendorModel):
    strTime: str = Field(min_length=1, description="ISO-8601 with offset")
    endTime: str = Field(min_length=1, description="ISO-8601 with offset")
    sipGroupName: str | None = Field(default=None, max_length=64)
    #: the vendor SDK's own test sends the group under this name
    groupName: str | None = Field(default=None, max_length=64)
    phoneName: str | None = Field(default=None, max_length=64)

    _text = field_validator("*", mode="before")(storable_text)


class SipRecordQuery(VendorModel):
    current: int = Field(default=1, ge=1, le=10_000_000)
    size: int = Field(default=25, ge=1, le=100)
    params: SipRecordParams | None = None


@router.post("/voice/sendSip", openapi_extra=envelope(Family.STATUS))
async def send_sip(req: SendSip, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Ring the phone `account`; once it answers, call `callee` from it. `data` is the voiceId."""
    call = sipcalls.SipCall(
        app_id=req.appId,
        account=req.account,
        callee=req.callee,
        display_num=req.displayNum,
        called_info=req.calledInfo or None,
    )
    async with rt.sessions.begin() as session:
        # an account without a trunk dials the sandbox, whose phones are virtual
        voice_id = await sipcalls.submit(
            session, account, call, rt.clock.now(), virtual=account.trunk is None
        )
    return ok(Family.STATUS, voice_id)


@router.get("/voice/recordSip/{voiceId}", openapi_extra=envelope(Family.STATUS))
async def record_sip(voiceId: str, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """One phone call's record by the voiceId sendSip returned."""
    voice_id = records.voice_id_of_path(voiceId)
    async with rt.readonly() as session:
        data = await sipcalls.get_record(session, account.id, voice_id)
    return ok(Family.STATUS, data)


@router.post("/voice/recordSipQuery", openapi_extra=envelope(Family.STATUS))
async def record_sip_query(req: SipRecordQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Phone calls submitted within a window of at most 31 days, oldest first."""
    if req.params is None:
        raise ApiError(Code.PARAMETER, "params.strTime: is required")
    # the phone records' pages give times with their offset only (C.6)
    start = records.parse_time(req.params.strTime, "params.strTime", require_offset=True)
    end = records.parse_time(req.params.endTime, "params.endTime", require_offset=True)
    async with rt.readonly() as session:
        rows, total = await sipcalls.query_records(
            session,
            account.id,
            start=start,
            end=end,
            current=req.current,
            size=req.size,
            group_name=req.params.sipGroupName or req.params.groupName or None,
            phone_name=req.params.phoneName or None,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))
