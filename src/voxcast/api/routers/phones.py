"""SIP phones (`voice/sipAdd`, `sipQuery`, `sipReset`), api-catalog-aivoice-sip §C.1-C.3:
phones are call-center agents created in a new agent group, listed with their passwords."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from voxcast.api.base import (
    STORABLE_PATTERN,
    Current,
    Size,
    VendorModel,
    page_body,
    storable_text,
)
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.services import phones

router = APIRouter(route_class=VendorRoute, tags=["SIP phones"])

# constraints in the string schema itself (not after a validator), so a length error reads
# "String should have at least 4 characters"
AppId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=STORABLE_PATTERN)]
#: group and phone names, and phone accounts: 4-32 characters (§C.1, §C.3)
Name = Annotated[str, StringConstraints(min_length=4, max_length=32, pattern=STORABLE_PATTERN)]
_DISPLAY = re.compile(r"^[0-9]{7,13}$")


class SipAdd(VendorModel):
    groupName: Name = Field(
        description=(
            "Name of the new phone group (an agent group), 4-32 characters, unique in the app"
        )
    )
    phoneName: Name = Field(
        description="Base name of the phones, 4-32 characters: they are named <phoneName>-1 .. -N"
    )
    quantity: int = Field(
        ge=1, le=phones.MAX_PHONES_PER_REQUEST, description="Number of phones to create, 1-50"
    )
    displayNum: Annotated[str, BeforeValidator(storable_text)] | None = Field(
        default=None, description="Caller id of the phones' calls, 7-13 digits (optional)"
    )
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )

    @field_validator("displayNum")
    @classmethod
    def _display(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None  # optional on onbuka's page (itniotech's says required)
        assert value is not None
        if not _DISPLAY.match(value):
            raise ValueError("must be 7-13 digits")
        return value


class SipQueryParams(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )


class SipQuery(VendorModel):
    current: Current = Field(default=1, description="Page number, from 1 (default 1)")
    size: Size = Field(default=25, description="Page size, 1-100 (default 25)")
    # optional so a body without it is answered -22 naming params.appId
    params: SipQueryParams | None = Field(
        default=None, description="appId (required): the app whose phones are listed"
    )


class SipReset(VendorModel):
    account: Name = Field(
        description="The phone's SIP account (e.g. <appId>_001) whose password is renewed"
    )
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )


@router.post("/voice/sipAdd", openapi_extra=envelope(Family.STATUS))
async def sip_add(req: SipAdd, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """`quantity` phones (agents) in a new phone group; accounts and passwords come back from
    sipQuery (`data` is null, as the vendor's)."""
    async with rt.sessions.begin() as session:
        await phones.add_phones(
            session,
            rt.secrets,
            account.id,
            app_id=req.appId,
            group_name=req.groupName,
            phone_name=req.phoneName,
            quantity=req.quantity,
            display_num=req.displayNum,
            now=rt.clock.now(),
        )
    return ok(Family.STATUS)


@router.post("/voice/sipQuery", openapi_extra=envelope(Family.STATUS))
async def sip_query(req: SipQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The app's phones (and agents), oldest first, each with its password in clear."""
    if req.params is None:
        raise ApiError(Code.PARAMETER, "params.appId: is required")
    async with rt.readonly() as session:
        rows, total = await phones.list_phones(
            session, rt.secrets, account.id, req.params.appId, req.current, req.size
        )
    records: list[object] = [
        {
            "groupName": p.group_name,
            "phoneName": p.phone_name,
            "account": p.account,
            "password": p.password,
            "displayNum": p.display_num,
        }
        for p in rows
    ]
    return ok(Family.STATUS, page_body(records, total, req.current, req.size, search_count=False))


@router.post("/voice/sipReset", openapi_extra=envelope(Family.STATUS))
async def sip_reset(req: SipReset, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A new random password for one phone; `data` = {account, password}."""
    async with rt.sessions.begin() as session:
        password = await phones.reset_password(
            session, rt.secrets, account.id, req.appId, req.account
        )
    return ok(Family.STATUS, {"account": req.account, "password": password})
