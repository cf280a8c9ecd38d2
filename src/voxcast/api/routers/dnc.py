"""Do-not-call lists (a voxcast extension): add, remove and query numbers of an app's list or
of the account's, and read the audit trail. Signed and enveloped like every vendor endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints

from voxcast import compliance
from voxcast.api.base import STORABLE_PATTERN, PageQuery, VendorModel, page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Account

router = APIRouter(route_class=VendorRoute, tags=["do-not-call (voxcast extension)"])
P = "/voice/dnc"

Spelling = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=STORABLE_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]


class DncChange(VendorModel):
    appId: str | None = Field(
        default=None, max_length=32, description="the app's list; absent: the account's list"
    )
    numbers: list[Spelling] = Field(
        min_length=1,
        max_length=1000,
        description="Numbers to add or remove, at most 1000, in any spelling; stored in E.164",
    )
    region: Region | None = Field(
        default=None, description="ISO country of numbers written without their country code"
    )


class DncQuery(PageQuery):
    appId: str | None = Field(
        default=None, max_length=32, description="an app's list; \"\" the account's; absent: all"
    )
    numbers: list[Spelling] | None = Field(
        default=None, max_length=1000, description="Numbers to look up, at most 1000"
    )
    region: Region | None = Field(
        default=None,
        description=(
            "Two-letter region (ISO 3166, e.g. US) national spellings are read in; "
            "default: E.164 only"
        ),
    )


class DncAuditQuery(VendorModel):
    number: Spelling | None = Field(
        default=None, description="A number whose changes are listed (any spelling)"
    )
    region: Region | None = Field(
        default=None,
        description=(
            "Two-letter region (ISO 3166, e.g. US) national spellings are read in; "
            "default: E.164 only"
        ),
    )


def _e164(numbers: list[str], region: str | None, field: str = "numbers") -> list[str]:
    """Every spelling in E.164; -22 naming the first that is not a phone number."""
    out = []
    for i, raw in enumerate(numbers):
        try:
            out.append(compliance.normalize(raw, region))
        except compliance.BadNumber as err:
            reason = f"{field}[{i}]: {raw[:32]}: {err}"
            raise ApiError(Code.PARAMETER, reason) from None
    return out


async def _list_of(session: Any, account_id: int, app_id: str | None) -> str:
    if not app_id:
        return compliance.ACCOUNT_WIDE
    await accounts.require_app(session, account_id, app_id)
    return app_id


def _actor(request: Request) -> str:
    return f"api key {request.headers.get('api-key', '')[:64]}"


async def _change(
    change: Callable[..., Awaitable[list[str]]],
    req: DncChange,
    request: Request,
    account: Account,
    rt: Runtime,
) -> list[str]:
    """Add or remove (`change`) the request's numbers on its list, audited as the API key's."""
    numbers = _e164(req.numbers, req.region)
    async with rt.sessions.begin() as session:
        app_id = await _list_of(session, account.id, req.appId)
        changed: list[str] = await change(
            session,
            account.id,
            app_id,
            numbers,
            source=compliance.API,
            actor=_actor(request),
            now=rt.clock.now(),
        )
    return changed


@router.post(f"{P}/add", openapi_extra=envelope(Family.STATUS))
async def add(req: DncChange, request: Request, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Put numbers on the list (any spelling; stored in E.164). `data.added`: the numbers that
    were not on it yet; every one is audited."""
    added = await _change(compliance.add, req, request, account, rt)
    return ok(Family.STATUS, {"added": added, "count": len(added)})


@router.post(f"{P}/remove", openapi_extra=envelope(Family.STATUS))
async def remove(
    req: DncChange, request: Request, account: CurrentAccount, rt: Rt
) -> dict[str, Any]:
    """Take numbers off the list. `data.removed`: those that were on it; each is audited."""
    removed = await _change(compliance.remove, req, request, account, rt)
    return ok(Family.STATUS, {"removed": removed, "count": len(removed)})


@router.post(f"{P}/query", openapi_extra=envelope(Family.STATUS))
async def query(req: DncQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A page of list entries, newest first: of one list or all, of given numbers or all."""
    numbers = None if req.numbers is None else _e164(req.numbers, req.region)
    async with rt.readonly() as session:
        app_id = None if req.appId is None else await _list_of(session, account.id, req.appId)
        rows, total = await compliance.entries(
            session,
            account.id,
            app_id=app_id,
            numbers=numbers,
            current=req.current,
            size=req.size,
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))


@router.post(f"{P}/audit", openapi_extra=envelope(Family.STATUS))
async def audit(req: DncAuditQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's list changes, oldest first (up to 1000; of one number when given)."""
    number = None if req.number is None else _e164([req.number], req.region, "number")[0]
    async with rt.readonly() as session:
        rows = await compliance.audit_trail(session, account.id, number)
    return ok(
        Family.STATUS,
        [
            {
                "number": r.number,
                "appId": r.app_id or None,
                "action": r.action,
                "source": r.source,
                "actor": r.actor,
                "time": int(r.at.timestamp()),
            }
            for r in rows
        ],
    )
