"""The console's Recall flows: the account's flows as `voice/recallFlow/queryPage` lists them,
and a pending one changed through `services.recall.update_flow`, checked by the API's own
`recallFlow/update` model. A flow is added with its task (the New task forms' recallFlow)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from voxcast.api.routing import validation_reason
from voxcast.api.schemas.tasks import RecallUpdate
from voxcast.console import auth
from voxcast.console.pages import (
    BASE,
    PAGE_SIZE,
    ConsoleRoute,
    _account_user,
    _id,
    _page,
    _rt,
    _stamp,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import RecallStatus
from voxcast.services import accounts, console_users, recall
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

STATUS = {s.value: s.name.lower().replace("_", " ") for s in RecallStatus}
#: the form's fields, by recallFlow/update's names
FIELDS = ("recallInterval", "recallNum", "recallType", "recallIntent", "nodeList")


@router.get("/recall")
async def recall_list(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    page = _page(request)
    async with _rt(request).readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        flows, total = await recall.query_page(
            session, account, current=page, size=PAGE_SIZE, params={}
        )
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        "recall.html",
        who,
        here="recall",
        flows=flows,
        statuses=STATUS,
        page=page,
        pages=pages,
        total=total,
    )


async def _detail(request: Request, who: Principal, flow_id: int) -> dict[str, Any]:
    """The flow as `recallFlow/queryDetail` answers it; another account's is a 404."""
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        return await recall.detail(session, account, flow_id)


def _form_of(flow: dict[str, Any]) -> dict[str, str]:
    """The stored flow as the form shows it: each round's overrides as JSON (nodeList)."""
    nodes = [
        {k: v for k, v in node.items() if k in recall.NODE_KEYS and v is not None}
        for node in flow["nodeList"]
    ]
    while nodes and not nodes[-1]:
        nodes.pop()
    return {
        "recallInterval": str(flow["recallInterval"]),
        "recallNum": str(flow["recallNum"]),
        "recallType": str(flow["recallType"]),
        "recallIntent": ", ".join(flow["recallIntent"] or []),
        "nodeList": json.dumps(nodes, indent=2, ensure_ascii=False) if nodes else "",
    }


def _flow_page(
    who: Principal, flow: dict[str, Any], form: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    return render(
        "recall_flow.html",
        who,
        status,
        here="recall",
        flow=flow,
        form=form,
        statuses=STATUS,
        pending=flow["status"] == RecallStatus.PENDING,
        **extra,
    )


@router.get("/recall/{flow_id}")
async def recall_flow(request: Request, flow_id: str) -> Response:
    who = await _account_user(request)
    flow = await _detail(request, who, _id(flow_id))
    notice = "Recall flow saved." if request.query_params.get("done") == "saved" else None
    return _flow_page(who, flow, _form_of(flow), notice=notice)


def _body(flow_id: int, form: dict[str, str]) -> dict[str, Any]:
    """The form as `recallFlow/update`'s JSON body."""
    body: dict[str, Any] = {"keyId": flow_id}
    body.update({k: form[k] for k in ("recallInterval", "recallNum", "recallType") if form[k]})
    intents = [i.strip() for i in form["recallIntent"].split(",") if i.strip()]
    if intents:
        body["recallIntent"] = intents
    if form["nodeList"].strip():
        try:
            body["nodeList"] = json.loads(form["nodeList"])
        except json.JSONDecodeError as err:
            raise ApiError(Code.PARAMETER, f"nodeList: not JSON: {err}") from None
    return body


@router.post("/recall/{flow_id}")
async def recall_save(request: Request, flow_id: str) -> Response:
    """Save a pending flow as `recallFlow/update` does; a refusal keeps the form as typed and
    shows the API's code and reason."""
    who = await _account_user(request)
    fields = await auth.posted_form(request, who, None)
    auth.require_writer(who)
    assert who.account_id is not None
    key = _id(flow_id)
    flow = await _detail(request, who, key)
    form = {k: fields.get(k, "") if k == "nodeList" else fields.get(k, "").strip() for k in FIELDS}
    rt = _rt(request)
    try:
        try:
            req = RecallUpdate.model_validate(_body(key, form))
        except ValidationError as err:
            code, reason = validation_reason(RequestValidationError(err.errors()))
            raise ApiError(code, reason) from None
        async with rt.sessions.begin() as session:
            account = await accounts.get_account(session, who.account_id)
            spec = req.model_dump(exclude_none=True)
            await recall.update_flow(session, account, key, spec, rt.clock.now(), rt.settings)
            await console_users.audit(
                session,
                who,
                "recall flow saved",
                f"recall flow {key} of task {flow['taskId']}",
                **_stamp(request),
            )
    except ApiError as err:
        return _flow_page(who, flow, form, 400, error=f"{err.code.value} {err.reason}")
    return RedirectResponse(f"{BASE}/recall/{key}?done=saved", status_code=303)
