"""The console's call-center pages: agent groups and their agents (live status, SIP credentials
for owners) through `services.agents`, and AI scripts through `services.scripts` (the raw JSON or
a form per node, and "try it" on the sandbox through `services.trials`), all checked with the
API's own request models and validation, so refusals read as the API's."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from voxcast.api.callcenter_requests import AddGroup, AddSeats
from voxcast.api.routing import validation_reason
from voxcast.api.schemas.tasks import GroupCallSendAI
from voxcast.console import scriptform
from voxcast.console.pages import (
    BASE,
    ConsoleRoute,
    _account_user,
    _id,
    _rt,
    _stamp,
    _writer_form,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.services import accounts, agents, console_users, keys, scripts, trials
from voxcast.services.agents import AgentStatus
from voxcast.services.console_users import Principal

M = TypeVar("M", bound=BaseModel)

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

STATUS_NAMES = {
    AgentStatus.OFFLINE: "offline",
    AgentStatus.IDLE: "idle",
    AgentStatus.BUSY: "busy",
    AgentStatus.WRAP_UP: "wrap-up",
    AgentStatus.BREAK: "break",
}
STRATEGIES = {1: "longest idle", 2: "fewest calls", 3: "agent priority", 4: "round robin"}
#: the wait for a free agent when the group sets none (cc/seatGroup/basicSetting's default)
DEFAULT_WAIT_S = 30
#: the largest script document the page takes (a script of hundreds of nodes is far smaller)
MAX_DOCUMENT = 512 * 1024
_DONE = {"group": "Agent group created.", "saved": "Script saved.", "added": "Script added."}
#: the fields the node form may post: a large script's form has many more than Starlette's
#: default 1000 (each node posts about 20, with its keys and branches)
MAX_FORM_FIELDS = 40_000
#: how often the "try it" fragment asks for news
TRY_POLL = "1s"
#: room for a tried conversation: the call is cut this many seconds after the answer
TRY_MAX_CALL_S = 600


def _refusal(err: ApiError) -> str:
    """An API refusal as the page shows it: the vendor code, then the API's reason."""
    return f"{err.code.value} {err.reason}"


def _as_api(model: type[M], fields: dict[str, Any]) -> M:
    """`fields` checked by the API's request model; its refusal as the API words it."""
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        code, reason = validation_reason(RequestValidationError(err.errors()))
        raise ApiError(code, reason) from None


def _number(text: str) -> int | str:
    """A form's digits as the JSON number the API's model takes; anything else as typed, for
    the model to refuse in its own words."""
    return int(text) if text.strip().lstrip("-").isdigit() and len(text) < 12 else text


# -- agent groups and agents -----------------------------------------------------------------


async def _groups_page(
    request: Request,
    who: Principal,
    *,
    group_id: int | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        groups = await agents.account_groups(
            session, rt.secrets, who.account_id, group_id=group_id, passwords=who.can_write
        )
        apps = await keys.list_apps(session, who.account_id)
    notice = _DONE.get(request.query_params.get("done", ""))
    return render(
        "agents.html",
        who,
        status,
        here="agents",
        groups=groups,
        group=groups[0] if group_id is not None else None,
        apps=apps,
        notice=extra.pop("notice", notice),
        **_labels(),
        **extra,
    )


def _labels() -> dict[str, Any]:
    return {
        "agent_status": STATUS_NAMES,
        "strategies": STRATEGIES,
        "default_wait": DEFAULT_WAIT_S,
    }


async def _agent_rows(request: Request, group_id: int | None) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        groups = await agents.account_groups(
            session, rt.secrets, who.account_id, group_id=group_id, passwords=who.can_write
        )
    return render("_agents.html", who, groups=groups, **_labels())


@router.get("/agents")
async def agent_groups(request: Request) -> Response:
    who = await _account_user(request)
    return await _groups_page(request, who)


@router.get("/agents/rows")
async def agent_groups_rows(request: Request) -> Response:
    """The agents table alone, which the page polls for live status."""
    return await _agent_rows(request, None)


@router.get("/agents/groups/{group_id}")
async def agent_group(request: Request, group_id: str) -> Response:
    who = await _account_user(request)
    return await _groups_page(request, who, group_id=_id(group_id))


@router.get("/agents/groups/{group_id}/rows")
async def agent_group_rows(request: Request, group_id: str) -> Response:
    return await _agent_rows(request, _id(group_id))


@router.post("/agents/groups")
async def add_group(request: Request) -> Response:
    """A new group, as `cc/seatGroup/addGroup` makes it."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    form = {"appId": fields.get("app", ""), "groupName": fields.get("name", "")}
    try:
        req = _as_api(AddGroup, form)
        async with rt.sessions.begin() as session:
            group = await agents.add_group(
                session, who.account_id, req.appId, req.groupName, rt.clock.now()
            )
            group_id = group.id
            await console_users.audit(
                session,
                who,
                "agent group created",
                f"{group_id} {req.groupName} in app {req.appId}",
                **_stamp(request),
            )
    except ApiError as err:
        return await _groups_page(request, who, status=400, error=_refusal(err), group_form=form)
    return RedirectResponse(f"{BASE}/agents/groups/{group_id}?done=group", status_code=303)


@router.post("/agents/groups/{group_id}/agents")
async def add_agents(request: Request, group_id: str) -> Response:
    """New agents in the group, as `cc/seat/addSeatList` makes them: their SIP passwords
    are on the page that follows (and on the group's page for owners and admins)."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    gid = _id(group_id)
    rt = _rt(request)
    form = {
        "voiceGroupId": gid,
        "size": fields.get("size", "1"),
        "displayNum": fields.get("displayNum", "") or None,
        "ccode": fields.get("ccode", "") or None,
    }
    try:
        req = _as_api(AddSeats, form)
        async with rt.sessions.begin() as session:
            created = await agents.add_agents(
                session,
                rt.secrets,
                who.account_id,
                gid,
                req.size,
                req.displayNum,
                req.ccode,
                rt.clock.now(),
            )
            await console_users.audit(
                session,
                who,
                "agents added",
                f"group {gid}: {' '.join(a.name for a in created[:20])}",
                **_stamp(request),
            )
    except ApiError as err:
        if err.code == Code.NOT_FOUND:
            raise
        return await _groups_page(
            request, who, group_id=gid, status=400, error=_refusal(err), agent_form=form
        )
    names = ", ".join(a.name for a in created)
    return await _groups_page(request, who, group_id=gid, notice=f"Agents added: {names}.")


# -- AI scripts --------------------------------------------------------------------------------


def _document(text: str) -> Any:
    """The textarea's JSON; -22 naming `script` when it is none."""
    if len(text) > MAX_DOCUMENT:
        raise ApiError(Code.PARAMETER, f"script: at most {MAX_DOCUMENT} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ApiError(Code.PARAMETER, f"script: not JSON: {err}") from None


def _pretty(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


async def _scripts_page(
    request: Request, who: Principal, *, status: int = 200, **extra: Any
) -> Response:
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        rows = await scripts.list_scripts(session, who.account_id)
    return render(
        "scripts.html",
        who,
        status,
        here="scripts",
        scripts=rows,
        draft=extra.pop("draft", None) or _pretty(scripts.example_document()),
        **extra,
    )


async def _script_page(
    request: Request,
    who: Principal,
    script_id: int,
    *,
    status: int = 200,
    draft: str | None = None,
    form: scriptform.FormView | None = None,
    **extra: Any,
) -> Response:
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        row = await scripts.get_script(session, who.account_id, script_id)
        account = await accounts.get_account(session, who.account_id)
    document = _pretty(row.document)
    notice = _DONE.get(request.query_params.get("done", ""))
    return render(
        "script.html",
        who,
        status,
        here="scripts",
        script=row,
        language=row.document.get("language", ""),
        variables=scripts.variables_of(row),
        document=document,
        draft=draft if draft is not None else document,
        form=form or scriptform.form_view(row.document),
        grammar_kinds=scriptform.grammar_kinds(),
        callees=trials.CALLEES,
        on_sandbox=account.trunk is None,
        notice=extra.pop("notice", notice),
        **extra,
    )


@router.get("/scripts")
async def script_list(request: Request) -> Response:
    who = await _account_user(request)
    return await _scripts_page(request, who)


@router.post("/scripts")
async def script_add(request: Request) -> Response:
    """A new script, as `aivoice/dialogFlowAdd` stores it (its refusals, `script.` first)."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    text = fields.get("script", "")
    try:
        document = _document(text)
        async with rt.sessions.begin() as session:
            row = await scripts.add_script(
                session, who.account_id, document, rt.clock.now(), prefix="script."
            )
            script_id = row.id
            await console_users.audit(
                session, who, "script added", f"{script_id} {row.name}", **_stamp(request)
            )
    except ApiError as err:
        return await _scripts_page(request, who, status=400, error=_refusal(err), draft=text)
    return RedirectResponse(f"{BASE}/scripts/{script_id}?done=added", status_code=303)


@router.get("/scripts/{script_id}")
async def script_page(request: Request, script_id: str) -> Response:
    who = await _account_user(request)
    return await _script_page(request, who, _id(script_id))


@router.post("/scripts/{script_id}")
async def script_save(request: Request, script_id: str) -> Response:
    """The textarea's document replaces the script, as `aivoice/dialogFlowEdit` does."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    sid = _id(script_id)
    rt = _rt(request)
    text = fields.get("script", "")
    try:
        document = _document(text)
        async with rt.sessions.begin() as session:
            row = await scripts.update_script(
                session, who.account_id, sid, document, rt.clock.now(), prefix="script."
            )
            await console_users.audit(
                session, who, "script saved", f"{sid} {row.name}", **_stamp(request)
            )
    except ApiError as err:
        if err.code == Code.SCRIPT_NOT_FOUND:
            raise
        return await _script_page(request, who, sid, status=400, error=_refusal(err), draft=text)
    return RedirectResponse(f"{BASE}/scripts/{sid}?done=saved", status_code=303)


@router.post("/scripts/{script_id}/form")
async def script_form_save(request: Request, script_id: str) -> Response:
    """The node form's document replaces the script, as `aivoice/dialogFlowEdit` does; a
    refusal is shown beside the node or intent it names."""
    await request.form(max_fields=MAX_FORM_FIELDS)  # cached: `_writer_form` reads this one
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    sid = _id(script_id)
    rt = _rt(request)
    document: dict[str, Any] = {}
    try:
        async with rt.sessions.begin() as session:
            stored = await scripts.get_script(session, who.account_id, sid)
            document = scriptform.document_of(fields, stored.document)
            row = await scripts.update_script(
                session, who.account_id, sid, document, rt.clock.now(), prefix="script."
            )
            await console_users.audit(
                session, who, "script saved", f"{sid} {row.name} (form)", **_stamp(request)
            )
    except ApiError as err:
        if err.code == Code.SCRIPT_NOT_FOUND:
            raise
        return await _script_page(
            request,
            who,
            sid,
            status=400,
            error=_refusal(err),
            form=scriptform.form_view(document, err.reason),
        )
    return RedirectResponse(f"{BASE}/scripts/{sid}?done=saved#form", status_code=303)


@router.post("/scripts/{script_id}/try")
async def script_try(request: Request, script_id: str) -> Response:
    """An AI task of the script to one sandbox callee; the fragment that follows its call."""
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    sid = _id(script_id)
    rt = _rt(request)
    callee = fields.get("callee", "")
    try:
        async with rt.sessions.begin() as session:
            apps = await keys.list_apps(session, who.account_id)
            if not apps:
                raise ApiError(Code.PARAMETER, "appId: the account has no app; add one first")
            body = {
                "appId": apps[0].app_id,
                "taskName": f"try script {sid}",
                "scriptId": sid,
                "maxCalls": TRY_MAX_CALL_S,
                "enableRecording": 1,
                "numberInfoList": [{"calleeNumber": callee}],
            }
            req = _as_api(GroupCallSendAI, body)
            task_fields = req.model_dump(
                exclude_none=True, exclude={"numberInfoList", "numberList"}
            )
            task_id = await trials.start(
                session, who.account_id, task_fields, callee, rt.clock.now(), rt.settings
            )
            await console_users.audit(
                session, who, "script tried", f"{sid} task {task_id} to {callee}", **_stamp(request)
            )
            outcome = await trials.outcome(session, who.account_id, task_id)
    except ApiError as err:
        if err.code == Code.SCRIPT_NOT_FOUND:
            raise
        # htmx swaps only a 2xx answer in: the refusal is the fragment's content
        status = 200 if request.headers.get("hx-request") else 400
        return render("_script_try.html", who, status, script_id=sid, error=_refusal(err))
    return _try_fragment(who, sid, outcome)


def _try_fragment(who: Principal, script_id: int, outcome: trials.Outcome) -> Response:
    return render(
        "_script_try.html",
        who,
        script_id=script_id,
        outcome=outcome,
        callee_says=trials.CALLEES.get(outcome.callee, ""),
        poll=TRY_POLL,
    )


@router.get("/scripts/{script_id}/try/{task_id}")
async def script_try_state(request: Request, script_id: str, task_id: str) -> Response:
    """The trial's state, which the page polls until the call ended and shows its transcript."""
    who = await _account_user(request)
    assert who.account_id is not None
    sid = _id(script_id)
    async with _rt(request).readonly() as session:
        await scripts.get_script(session, who.account_id, sid)
        outcome = await trials.outcome(session, who.account_id, _id(task_id))
    return _try_fragment(who, sid, outcome)
