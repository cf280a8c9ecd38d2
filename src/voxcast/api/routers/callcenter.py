"""Call-center agent groups (`/cc/seatGroup/*`) and agents (`/cc/seat/*`), api-catalog §5.1-5.2."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BeforeValidator, Field, field_validator

from voxcast.api.base import DisplayNum, Id, PageQuery, VendorModel, page_body
from voxcast.api.callcenter_requests import CCODE, AddGroup, AddSeats, GroupName, Text
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.services import agents, numbers, records

router = APIRouter(route_class=VendorRoute, tags=["call center"])

_ALNUM = re.compile(r"^[A-Za-z0-9]+$")


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


#: a basicSetting number: "" or null clears the setting
Seconds = Annotated[Annotated[int, Field(ge=0, le=3600)] | None, BeforeValidator(_empty_is_none)]


class UpdateGroup(VendorModel):
    voiceGroupId: Id = Field(description="Agent group id (cc/seatGroup/query lists them)")
    groupName: GroupName = Field(
        description="New name of the agent group, 4-32 characters, unique in the app"
    )


class GroupParams(VendorModel):
    groupName: Text | None = Field(
        default=None, max_length=32, description="Part of the group name to filter on"
    )


class GroupQuery(PageQuery):
    params: GroupParams | None = Field(default=None, description="Filters of the query")


class BasicSetting(VendorModel):
    voiceGroupId: Id = Field(description="Agent group to configure")
    callinStrategy: Annotated[Literal[1, 2, 3, 4] | None, BeforeValidator(_empty_is_none)] = Field(
        default=None,
        description=(
            "Which agent rings: 1 longest idle, 2 fewest calls, 3 agent priority, 4 round robin"
        ),
    )
    timeoutTransferSec: Seconds = Field(
        default=None,
        description="Seconds an agent's phone rings before the next agent is tried (default 20)",
    )
    callinAutoAnswerSec: Seconds = Field(
        default=None, description="Seconds after which an agent's phone answers by itself"
    )
    wrapUpTime: Seconds = Field(
        default=None,
        description="Seconds an agent stays in wrap-up (status 4) after a call",
    )
    timeoutIdle: Seconds = Field(
        default=None, description="Unanswered calls after which an agent is put on break"
    )
    timeoutWaitSec: Seconds = Field(
        default=None,
        description="Seconds a callee waits for a free agent before the call ends (default 30)",
    )
    turnSeatRing: Text | None = Field(
        default=None,
        max_length=128,
        description="Ring-back tone file played while the transfer rings (upload's fileName)",
    )
    labelName: list[Annotated[Text, Field(max_length=20)]] | None = Field(
        default=None,
        max_length=10,
        description="Call labels agents can pick, at most 10 of 20 characters",
    )
    displaySwitch: Literal[0, 1] = Field(
        description="Show the caller's number to the agent: 0 on, 1 off"
    )
    encryptNumber: Literal[0, 1] = Field(description="Mask the callee's number: 0 on, 1 off")
    fsNode: Literal["SG_FS", "USA_FS", "UAE_FS", ""] | None = Field(
        default=None, description="Media node: SG_FS, USA_FS or UAE_FS"
    )


class UpdateSeat(VendorModel):
    keyId: Id = Field(description="Id of the agent (addSeatList's keyId)")
    voiceGroupId: Id = Field(description="Agent group the agent belongs to")
    name: Text = Field(
        min_length=1, max_length=64, description="The agent's account (as addSeatList named it)"
    )
    displayNum: DisplayNum = Field(description="Caller id of the agent's calls")
    ccode: Text | None = Field(
        default=None, description="Country calling code of the agent's calls"
    )
    petName: Text | None = Field(
        default=None, max_length=64, description="Nickname of the agent, at most 64 characters"
    )
    empNo: Text = Field(min_length=1, max_length=32, description="Employee number, 1-32 characters")
    password: Text | None = Field(
        default=None,
        min_length=6,
        max_length=32,
        description="New SIP password, 6-32 letters and digits",
    )
    #: voxcast extension (seat/query shows it): callinStrategy 3 offers the lower number first
    priority: int | None = Field(
        default=None,
        ge=1,
        le=999,
        description="voxcast extension: the agent's priority, 1-999, for callinStrategy 3",
    )

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        if value and not _ALNUM.match(value):
            raise ValueError("letters and digits only")
        return value

    @field_validator("ccode")
    @classmethod
    def _ccode(cls, value: str | None) -> str | None:
        if value and not CCODE.match(value):
            raise ValueError("must be 1-4 digits (a country calling code)")
        return value


class SdkAuthentication(VendorModel):
    account: Text = Field(
        min_length=1, max_length=64, description="The agent's account (addSeatList's name)"
    )
    expires: int = Field(
        ge=agents.SDK_MIN_S,
        le=agents.SDK_MAX_S,
        description="Seconds the credential stays valid, 60-28800",
    )


class SeatParams(VendorModel):
    strTime: Text = Field(
        min_length=1,
        description="Start of the statistics window (yyyy-MM-dd HH:mm:ss; at most 32 days)",
    )
    endTime: Text = Field(
        min_length=1, description="End of the statistics window (yyyy-MM-dd HH:mm:ss)"
    )
    enable: Literal[0, 1] | None = Field(
        default=None, description="1 enabled agents only, 0 disabled only"
    )
    name: Text | None = Field(
        default=None, max_length=64, description="Part of the agent account to filter on"
    )
    voiceGroupId: Id | None = Field(default=None, description="Agent group to filter on")
    status: Literal[1, 2, 3, 4, 5] | None = Field(
        default=None, description="Agent state: 1 offline, 2 idle, 3 busy, 4 wrap-up, 5 break"
    )


class SeatQuery(PageQuery):
    params: SeatParams = Field(description="Filters of the query")


# -- groups -----------------------------------------------------------------------------------


@router.post("/cc/seatGroup/addGroup", openapi_extra=envelope(Family.STATUS))
async def add_group(req: AddGroup, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A new agent group in the app; its id comes back from query (data is null)."""
    async with rt.sessions.begin() as session:
        await agents.add_group(session, account.id, req.appId, req.groupName, rt.clock.now())
    return ok(Family.STATUS)


@router.post("/cc/seatGroup/updateGroup", openapi_extra=envelope(Family.STATUS))
async def update_group(req: UpdateGroup, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Rename an agent group; `data` null."""
    async with rt.sessions.begin() as session:
        await agents.rename_group(session, account.id, req.voiceGroupId, req.groupName)
    return ok(Family.STATUS)


@router.get("/cc/seatGroup/deleteGroup", openapi_extra=envelope(Family.STATUS))
async def delete_group(
    account: CurrentAccount,
    rt: Rt,
    voiceGroupId: Annotated[int, Query(ge=1, le=2**31 - 1, description="Id of the agent group")],
) -> dict[str, Any]:
    """Delete an empty group (-63 while it has agents)."""
    async with rt.sessions.begin() as session:
        await agents.delete_group(session, account.id, voiceGroupId)
    return ok(Family.STATUS)


@router.post("/cc/seatGroup/query", openapi_extra=envelope(Family.STATUS))
async def query_groups(req: GroupQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's agent groups, a page of `{voiceGroupId, groupName, callinStrategy,
    countSeat, appName}`."""
    name = req.params.groupName if req.params else None
    async with rt.readonly() as session:
        rows, total = await agents.query_groups(session, account.id, name, req.current, req.size)
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))


@router.post("/cc/seatGroup/basicSetting", openapi_extra=envelope(Family.STATUS))
async def basic_setting(req: BasicSetting, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Group settings; a field sent empty clears it, a field left out keeps its value."""
    values = req.model_dump(exclude_unset=True)
    async with rt.sessions.begin() as session:
        await agents.set_basic(session, account.id, req.voiceGroupId, values)
    return ok(Family.STATUS)


@router.get("/cc/seatGroup/basicSettingResp", openapi_extra=envelope(Family.STATUS))
async def basic_setting_resp(
    account: CurrentAccount,
    rt: Rt,
    voiceGroupId: Annotated[int, Query(ge=1, le=2**31 - 1, description="Id of the agent group")],
) -> dict[str, Any]:
    """An agent group's settings, as basicSetting sets them."""
    async with rt.readonly() as session:
        data = await agents.basic_of(session, account.id, voiceGroupId)
    return ok(Family.STATUS, data)


# -- agents -----------------------------------------------------------------------------------


@router.post("/cc/seat/addSeatList", openapi_extra=envelope(Family.STATUS))
async def add_seats(req: AddSeats, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """`size` agents in the group, named `<appId>_001`...; each gets a SIP password
    (`sipPassword`, a voxcast extension: shown only here) for its softphone."""
    async with rt.sessions.begin() as session:
        created = await agents.add_agents(
            session,
            rt.secrets,
            account.id,
            req.voiceGroupId,
            req.size,
            req.displayNum,
            req.ccode,
            rt.clock.now(),
        )
    return ok(
        Family.STATUS,
        [{"keyId": s.key_id, "name": s.name, "sipPassword": s.password} for s in created],
    )


@router.post("/cc/seat/updateSeat", openapi_extra=envelope(Family.STATUS))
async def update_seat(req: UpdateSeat, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change an agent: group, name, caller id, nickname, employee number, password, priority."""
    async with rt.sessions.begin() as session:
        await agents.update_agent(
            session, rt.secrets, account.id, req.keyId, req.model_dump(exclude_unset=True)
        )
    return ok(Family.STATUS)


@router.post("/cc/seat/query", openapi_extra=envelope(Family.STATUS))
async def query_seats(req: SeatQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Agents created in a window of at most 32 days, newest first, with their status."""
    p = req.params
    start = records.parse_time(p.strTime, "params.strTime")
    end = records.parse_time(p.endTime, "params.endTime")
    async with rt.readonly() as session:
        rows, total = await agents.query_agents(
            session,
            account.id,
            start=start,
            end=end,
            enable=p.enable,
            name=p.name,
            group_id=p.voiceGroupId,
            status=p.status,
            current=req.current,
            size=req.size,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))


@router.post("/cc/seat/createSdkAuthentication", openapi_extra=envelope(Family.STATUS))
async def create_sdk_authentication(
    req: SdkAuthentication, account: CurrentAccount, rt: Rt
) -> dict[str, Any]:
    """`data.authentication`: the credential of the agent's browser softphone (the agent
    workspace, `/console/agent?token=...`), valid `expires` seconds; a new one replaces the
    agent's previous one (-24 when `account` is not an agent of yours)."""
    async with rt.sessions.begin() as session:
        token = await agents.create_sdk_token(
            session, account.id, req.account, req.expires, rt.clock.now()
        )
    return ok(Family.STATUS, {"authentication": token})


# -- inbound numbers (a voxcast extension, issue 11) -----------------------------------------


class AddNumber(VendorModel):
    number: Text = Field(
        min_length=2,
        max_length=32,
        description="Inbound number (DID) callers dial, 2-32 characters",
    )
    voiceGroupId: Id = Field(description="Agent group that calls to the number ring")


class NumberQuery(PageQuery):
    pass


@router.post("/cc/number/add", openapi_extra=envelope(Family.STATUS))
async def add_number(req: AddNumber, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Calls to `number` (an INVITE reaching the registrar) ring agent group `voiceGroupId`
    (-24 no such group of yours, -20 the number is taken, -9 not a number)."""
    async with rt.sessions.begin() as session:
        await numbers.add_number(
            session, req.number, req.voiceGroupId, rt.clock.now(), account_id=account.id
        )
    return ok(Family.STATUS)


@router.get("/cc/number/delete", openapi_extra=envelope(Family.STATUS))
async def delete_number(
    account: CurrentAccount,
    rt: Rt,
    number: Annotated[
        str, Query(min_length=1, max_length=32, description="The inbound number to remove")
    ],
) -> dict[str, Any]:
    """Stop taking calls to a number of yours (-24 when it is not one)."""
    async with rt.sessions.begin() as session:
        await numbers.remove_number(session, number, account_id=account.id)
    return ok(Family.STATUS)


@router.post("/cc/number/query", openapi_extra=envelope(Family.STATUS))
async def query_numbers(req: NumberQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's inbound numbers and the agent group each rings (voxcast extension)."""
    async with rt.sessions() as session:
        rows, total = await numbers.list_numbers(
            session, account_id=account.id, current=req.current, size=req.size
        )
    for row in rows:
        del row["accountId"]
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))
