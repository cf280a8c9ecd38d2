"""Recall flows: list, detail, update (while pending) and cancel (by flow, task or node)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from voxcast.api.base import page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.envelope import Family, ok
from voxcast.api.routing import VendorRoute, envelope
from voxcast.api.schemas.tasks import RecallCancel, RecallDetailQuery, RecallQuery, RecallUpdate
from voxcast.services import recall

router = APIRouter(route_class=VendorRoute, tags=["recall flows"])
P = "/voice/recallFlow"


@router.post(f"{P}/queryPage", openapi_extra=envelope(Family.STATUS))
async def query_page(req: RecallQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The account's recall flows, newest first."""
    params = req.params.model_dump(exclude_none=True) if req.params else {}
    async with rt.readonly() as session:
        rows, total = await recall.query_page(
            session, account, current=req.current, size=req.size, params=params
        )
    return ok(Family.STATUS, page_body(list(rows), total, req.current, req.size))


@router.post(f"{P}/queryDetail", openapi_extra=envelope(Family.CODE))
async def query_detail(req: RecallDetailQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """One flow with its nodes (rounds) and their child tasks."""
    async with rt.readonly() as session:
        data = await recall.detail(session, account, req.keyId)
    return ok(Family.CODE, data)


@router.post(f"{P}/update", openapi_extra=envelope(Family.CODE))
async def update(req: RecallUpdate, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change a flow that has not started: interval, rounds, type and per-round overrides."""
    async with rt.sessions.begin() as session:
        await recall.update_flow(
            session,
            account,
            req.keyId,
            req.model_dump(exclude_none=True),
            rt.clock.now(),
            rt.settings,
        )
    return ok(Family.CODE)


@router.post(f"{P}/cancel", openapi_extra=envelope(Family.STATUS))
async def cancel(req: RecallCancel, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """type 1: a flow by keyId; 2: the flow of a task; 3: a round and all later ones."""
    async with rt.sessions.begin() as session:
        await recall.cancel(session, account, req.type, req.id)
    return ok(Family.STATUS)
