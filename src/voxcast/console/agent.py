"""The agent workspace (`/console/agent`): an agent signs in with its SIP user name and password
(or opens the page with a `cc/seat/createSdkAuthentication` credential), talks in the browser
over WebRTC, and sees its status and the call offered to it, polled by htmx."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from voxcast.console import auth
from voxcast.console.pages import BASE, ConsoleRoute, render
from voxcast.ports import BrowserPhoneHost
from voxcast.services import agents, browser_agents
from voxcast.services.agents import AgentStatus
from voxcast.services.browser_agents import BrowserAgent, CallState, OfferedCall

router = APIRouter(prefix=f"{BASE}/agent", route_class=ConsoleRoute, include_in_schema=False)

AGENT_COOKIE = "voxcast_agent"
#: how long a password sign-in lasts (a credential's own expiry bounds a page it opened)
SESSION_S = 12 * 3600
MAX_SDP = 20_000
STATUS_NAMES = {
    AgentStatus.OFFLINE: "offline",
    AgentStatus.IDLE: "idle",
    AgentStatus.BUSY: "busy",
    AgentStatus.WRAP_UP: "wrap-up",
    AgentStatus.BREAK: "break",
}


@dataclass(frozen=True)
class AgentSession:
    key_id: int
    expires: int
    csrf: str
    #: the credential's fingerprint when the page was opened with one, else ""
    token: str


def _key(request: Request) -> bytes:
    return auth.runtime_of(request).secrets.derive("console agent session")


def _seal(request: Request, s: AgentSession) -> str:
    body = f"{s.key_id}.{s.expires}.{s.csrf}.{s.token}"
    mac = hmac.new(_key(request), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unseal(request: Request, value: str) -> AgentSession | None:
    body, _, mac = value.rpartition(".")
    wanted = hmac.new(_key(request), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac.encode(), wanted.encode()):
        return None
    parts = body.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    s = AgentSession(int(parts[0]), int(parts[1]), parts[2], parts[3])
    return s if s.expires > time.time() else None


def _phones(request: Request) -> BrowserPhoneHost | None:
    return getattr(request.app.state, "browser_phones", None)


def _now(request: Request) -> datetime:
    return auth.runtime_of(request).clock.now()


async def _agent(request: Request) -> tuple[AgentSession, BrowserAgent] | None:
    s = _unseal(request, request.cookies.get(AGENT_COOKIE, ""))
    if s is None:
        return None
    rt = auth.runtime_of(request)
    async with rt.sessions() as session:
        agent = await browser_agents.get(session, s.key_id, _now(request), s.token)
    return (s, agent) if agent is not None else None


def _signed_in(request: Request, s: AgentSession, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    auth.set_cookie(request, response, AGENT_COOKIE, _seal(request, s), SESSION_S)
    auth.clear_cookie(response, auth.LOGIN_CSRF_COOKIE)
    return response


def _login_page(
    request: Request, *, error: str | None = None, username: str = "", status: int = 200
) -> Response:
    token = auth.new_login_token()
    response = render(
        "agent_login.html", None, status, login_csrf=token, username=username, error=error
    )
    auth.set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("")
async def workspace(request: Request) -> Response:
    credential = request.query_params.get("token", "")
    if credential:
        # the page opened with a createSdkAuthentication credential: it lasts as long as the
        # credential does, and stops working when a new one replaces it
        rt = auth.runtime_of(request)
        async with rt.sessions() as session:
            found = await browser_agents.by_token(session, credential, _now(request))
            row = await agents.agent_of_token(session, credential, _now(request))
        if found is None or row is None or row.sdk_token_expires is None:
            return _login_page(request, error="That link has expired or was replaced.", status=401)
        left = int((row.sdk_token_expires - _now(request)).total_seconds())
        s = AgentSession(
            found.key_id,
            int(time.time()) + min(left, SESSION_S),
            secrets.token_urlsafe(18),
            agents.token_fingerprint(credential),
        )
        return _signed_in(request, s, f"{BASE}/agent")
    signed = await _agent(request)
    if signed is None:
        return _login_page(request)
    s, agent = signed
    return render(
        "agent.html", None, agent=agent, csrf=s.csrf, enabled=_phones(request) is not None
    )


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await auth.posted_form(request, None, request.cookies.get(auth.LOGIN_CSRF_COOKIE))
    username = fields.get("username", "").strip()[:64]
    password = fields.get("password", "")[:64]
    rt = auth.runtime_of(request)
    throttle: auth.LoginThrottle = request.app.state.console_throttle
    address = auth.address_of(request)
    now = rt.wall.monotonic()
    try:
        throttle.check(username, address, now)
    except auth.Throttled as err:
        return _login_page(request, error=str(err), username=username, status=429)
    async with rt.sessions() as session:
        agent = await browser_agents.sign_in(session, rt.secrets, username, password)
    if agent is None:
        throttle.failed(username, address, now)
        return _login_page(
            request, error="Wrong agent name or password.", username=username, status=401
        )
    throttle.succeeded(username, address)
    s = AgentSession(agent.key_id, int(time.time()) + SESSION_S, secrets.token_urlsafe(18), "")
    return _signed_in(request, s, f"{BASE}/agent")


async def _posting_agent(request: Request) -> tuple[AgentSession, BrowserAgent]:
    """The signed-in agent of a POST, its CSRF header checked."""
    signed = await _agent(request)
    if signed is None:
        raise auth.NotSignedIn
    sent = request.headers.get(auth.CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), signed[0].csrf.encode()):
        raise auth.Refused("the page's security token is missing or stale; reload the page")
    return signed


@router.post("/webrtc")
async def webrtc_offer(request: Request) -> Response:
    """The page's SDP offer (its candidates gathered) → our SDP answer; the agent can be rung
    from now on."""
    _, agent = await _posting_agent(request)
    phones = _phones(request)
    if phones is None:
        return JSONResponse({"error": "browser calls are not served here"}, status_code=503)
    try:
        body = await request.json()
    except ValueError:
        body = None
    offer = body.get("sdp") if isinstance(body, dict) else None
    if not isinstance(offer, str) or not offer.startswith("v=0") or len(offer) > MAX_SDP:
        return JSONResponse({"error": "sdp: not an SDP offer"}, status_code=400)
    try:
        answer, media = await phones.connect(agent.key_id, offer)
    except ValueError as err:  # aiortc's word for an offer it cannot take
        return JSONResponse({"error": f"sdp: {err}"}, status_code=400)
    rt = auth.runtime_of(request)
    async with rt.sessions.begin() as session:
        await browser_agents.register(session, agent.name, media, _now(request))
    return JSONResponse({"type": "answer", "sdp": answer})


def _elapsed(since: str, now: datetime) -> int:
    try:
        return max(0, int((now - datetime.fromisoformat(since)).total_seconds()))
    except ValueError:
        return 0


@router.get("/panel")
async def panel(request: Request) -> Response:
    """Status and the offered call, polled by the page; each poll renews the registration of a
    page whose media is here, and keeps that media bridged to the call it shows."""
    signed = await _agent(request)
    if signed is None:
        raise auth.NotSignedIn
    s, agent = signed
    rt = auth.runtime_of(request)
    phones = _phones(request)
    media = phones.media_of(agent.key_id) if phones is not None else None
    now = _now(request)
    async with rt.sessions.begin() as session:
        if media is not None:
            await browser_agents.register(session, agent.name, media, now)
        call = await browser_agents.offered(session, agent.key_id)
        fresh = await browser_agents.get(session, agent.key_id, now)
    status = fresh.status if fresh is not None else agent.status
    if phones is not None and media is not None:
        answered = call is not None and call.state == CallState.ANSWERED
        phones.follow(agent.key_id, call.leg if answered and call else None, _codec(call))
    return render(
        "_agent_panel.html",
        None,
        agent=agent,
        agent_status=status,
        status_name=STATUS_NAMES.get(status, str(status)),
        call=call,
        states=CallState,
        timer=_elapsed((call.answered_at or call.offered_at) if call else "", now),
        connected=media is not None,
        csrf=s.csrf,
    )


def _codec(call: OfferedCall | None) -> int:
    return call.codec if call is not None else 0


async def _call_action(request: Request) -> tuple[BrowserAgent, str]:
    _, agent = await _posting_agent(request)
    form = await request.form()
    call_id = form.get("call")
    return agent, call_id if isinstance(call_id, str) else ""


@router.post("/answer")
async def answer(request: Request) -> Response:
    agent, call_id = await _call_action(request)
    rt = auth.runtime_of(request)
    async with rt.sessions.begin() as session:
        took = await browser_agents.answer(session, agent.key_id, call_id, _now(request))
        call = await browser_agents.offered(session, agent.key_id)
    phones = _phones(request)
    if took and call is not None and phones is not None:
        phones.follow(agent.key_id, call.leg, call.codec)
    return await panel(request)


@router.post("/hangup")
async def hang_up(request: Request) -> Response:
    agent, call_id = await _call_action(request)
    rt = auth.runtime_of(request)
    async with rt.sessions.begin() as session:
        await browser_agents.hang_up(session, agent.key_id, call_id)
    phones = _phones(request)
    if phones is not None:
        phones.follow(agent.key_id, None, 0)
    return await panel(request)


@router.post("/break")
async def take_break(request: Request) -> Response:
    _, agent = await _posting_agent(request)
    form = await request.form()
    rt = auth.runtime_of(request)
    async with rt.sessions.begin() as session:
        await browser_agents.set_break(session, agent.key_id, form.get("on") == "1", _now(request))
    return await panel(request)


@router.post("/logout")
async def logout(request: Request) -> Response:
    signed = await _agent(request)
    if signed is not None:
        s, agent = signed
        form = await request.form()
        sent = form.get(auth.CSRF_FIELD)
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), s.csrf.encode()):
            raise auth.Refused("the form's security token is missing or stale; reload the page")
        phones = _phones(request)
        if phones is not None:
            await phones.disconnect(agent.key_id)
        rt = auth.runtime_of(request)
        async with rt.sessions.begin() as session:
            await browser_agents.unregister(session, agent.name, _now(request))
    response = RedirectResponse(f"{BASE}/agent", status_code=303)
    auth.clear_cookie(response, AGENT_COOKIE)
    return response
