"""Click-to-call: make a SIP phone (a call-center seat) call a number (voice/sendSip), and its
records (voice/recordSip/{voiceId}, voice/recordSipQuery)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field, field_validator

from voxcast.api.base import Phone, VendorModel, page_body, storable_text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.api.voice_code import optional_display
from voxcast.domain.codes import ApiError, Code
from voxcast.services import records, sipcalls

router = APIRouter(route_class=VendorRoute, tags=["SIP phones"])


class SendSip(VendorModel):
    callee: Phone = Field(
        description="Number the phone calls: country code and number, 7-15 digits"
    )
    displayNum: str | None = Field(
        default=None, description="Caller id, 7-15 digits; null: the phone's own display number"
    )
    account: str = Field(min_length=1, max_length=64, description="the phone's (seat's) account")
    appId: str = Field(
        min_length=1,
        max_length=32,
        description="Application id: the app the request acts in, one of the calling account's",
    )
    calledInfo: str | None = Field(
        default=None,
        max_length=1000,
        description="Free text (at most 1000 characters) echoed in the call's status report",
    )

    _text = field_validator("*", mode="before")(storable_text)
    _display = field_validator("displayNum")(optional_display)


class SipRecordParams(VendorModel):
    strTime: str = Field(min_length=1, description="ISO-8601 with offset")
    endTime: str = Field(min_length=1, description="ISO-8601 with offset")
    sipGroupName: str | None = Field(
        default=None,
        max_length=64,
        description="Phone group name to filter on, exactly (empty: no filter)",
    )
    #: the vendor SDK's own test sends the group under this name
    groupName: str | None = Field(
        default=None,
        max_length=64,
        description="Same as sipGroupName (what the vendor's SDK sends)",
    )
    phoneName: str | None = Field(
        default=None,
        max_length=64,
        description="Phone name to filter on, exactly (empty: no filter)",
    )

    _text = field_validator("*", mode="before")(storable_text)


class SipRecordQuery(VendorModel):
    current: int = Field(default=1, ge=1, le=10_000_000, description="Page number, from 1")
    size: int = Field(default=25, ge=1, le=100, description="Page size, 1-100")
    params: SipRecordParams | None = Field(
        default=None,
        description="strTime and endTime (ISO-8601 with offset, at most 31 days) and filters",
    )


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
async def record_sip(
    voiceId: Annotated[str, Path(description="Id of the call (sendSip's answer)")],
    account: CurrentAccount,
    rt: Rt,
) -> dict[str, Any]:
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
