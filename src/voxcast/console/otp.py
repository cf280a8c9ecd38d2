"""The console's Voice OTP test: one voice code sent exactly as `voice/sendCode` sends it (the
API's own model and code), then its call record, refreshed until the call ends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from voxcast.api import voice_code
from voxcast.api.routing import validation_reason
from voxcast.audio import LANGUAGES
from voxcast.console import auth
from voxcast.console.pages import BASE, ConsoleRoute, Missing, _account_user, _rt, _stamp, render
from voxcast.domain.codes import ApiError
from voxcast.services import accounts, console_users, keys, records
from voxcast.services.console_users import Principal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: the form's fields, by sendCode's names
FIELDS = ("appId", "callee", "text", "language", "displayNum")
DEFAULTS = {"language": "EN"}
#: what htmx takes as "stop polling"
STOP_POLLING = 286
#: the record's fields the page shows, in this order
SHOWN = (
    "voiceId",
    "callee",
    "displayNum",
    "submitTime",
    "callTime",
    "answerTime",
    "hangupTime",
    "callDuration",
    "chargedDuration",
    "cost",
    "sipCode",
    "terminationCode",
    "terminationReason",
)


async def _page(
    request: Request, who: Principal, form: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    assert who.account_id is not None
    async with _rt(request).readonly() as session:
        apps = await keys.list_apps(session, who.account_id)
    return render(
        "otp.html",
        who,
        status,
        here="tasks",
        form=form,
        apps=apps,
        languages=list(LANGUAGES.values()),
        **extra,
    )


@router.get("/otp")
async def otp_form(request: Request) -> Response:
    who = await _account_user(request)
    auth.require_writer(who)
    return await _page(request, who, {k: DEFAULTS.get(k, "") for k in FIELDS})


@router.post("/otp")
async def otp_send(request: Request) -> Response:
    """The form as sendCode's body: the API's model, then the API's code; a refusal keeps the
    form as typed and shows the API's code and reason."""
    who = await _account_user(request)
    fields = await auth.posted_form(request, who, None)
    auth.require_writer(who)
    assert who.account_id is not None
    form = {k: fields.get(k, "").strip() for k in FIELDS}
    body = {k: v for k, v in form.items() if v}
    rt = _rt(request)
    try:
        try:
            req = voice_code.SendCode.model_validate(body)
        except ValidationError as err:
            code, reason = validation_reason(RequestValidationError(err.errors()))
            raise ApiError(code, reason) from None
        async with rt.readonly() as session:
            account = await accounts.get_account(session, who.account_id)
        voice_id = await voice_code.send(req, account, rt)
    except ApiError as err:
        return await _page(request, who, form, 400, error=f"{err.code.value} {err.reason}")
    async with rt.sessions.begin() as session:
        await console_users.audit(
            session, who, "voice OTP sent", f"{voice_id} to {req.callee}", **_stamp(request)
        )
    return RedirectResponse(f"{BASE}/otp/{voice_id}", status_code=303)


async def _record(request: Request, who: Principal, voice_id: str) -> dict[str, Any]:
    """The call's record as `voice/recordGroup` answers it; another account's is a 404."""
    assert who.account_id is not None
    if not records.looks_like_voice_id(voice_id):
        raise Missing
    async with _rt(request).readonly() as session:
        return await records.get_record(session, who.account_id, voice_id)


def _ended(record: dict[str, Any]) -> bool:
    return bool(record.get("hangupTime") or record.get("terminationCode"))


@router.get("/otp/{voice_id}")
async def otp_call(request: Request, voice_id: str) -> Response:
    who = await _account_user(request)
    record = await _record(request, who, voice_id)
    return render(
        "otp_call.html",
        who,
        here="tasks",
        record=record,
        shown=SHOWN,
        ended=_ended(record),
        voice_id=voice_id,
    )


@router.get("/otp/{voice_id}/record")
async def otp_record(request: Request, voice_id: str) -> Response:
    """The record's rows, polled every second; once the call has ended, htmx is told to
    stop polling."""
    who = await _account_user(request)
    record = await _record(request, who, voice_id)
    ended = _ended(record)
    page = render("_otp_record.html", who, record=record, shown=SHOWN, ended=ended)
    if ended:
        page.status_code = STOP_POLLING
    return page
