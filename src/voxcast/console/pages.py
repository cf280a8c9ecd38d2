"""The console's pages: sign-in, dashboard, tasks (live progress, pause/resume/cancel), call
records (filters, paging, CSV export), developer settings, audit log, and the admin's account
list. Every page reads and changes data through the same services as the API."""

from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from voxcast.api.base import MAX_ID
from voxcast.console import auth, charts
from voxcast.console.auth import NotSignedIn, Refused, Throttled
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TaskStatus
from voxcast.domain.task_states import IllegalTransition, TaskEvent
from voxcast.runtime import Runtime
from voxcast.services import accounts, console_users, keys, overview, tasks
from voxcast.services.console_users import Principal
from voxcast.webhooks import testpush

log = logging.getLogger("voxcast.console")

BASE = "/console"
STATIC = f"{BASE}/static"
PAGE_SIZE = 25
RUNNING = [TaskStatus.WAITING, TaskStatus.CALLING, TaskStatus.SUSPENDED, TaskStatus.SUBMITTING]
STATUS_NAMES = {
    TaskStatus.WAITING: "waiting",
    TaskStatus.CALLING: "calling",
    TaskStatus.FINISHED: "finished",
    TaskStatus.SUBMIT_FAILED: "submit failed",
    TaskStatus.CANCELED: "canceled",
    TaskStatus.SUSPENDED: "paused",
    TaskStatus.SUBMITTING: "submitting",
}
ACTIONS = {"pause": TaskEvent.PAUSE, "resume": TaskEvent.RESUME, "cancel": TaskEvent.CANCEL}
#: the buttons a task's status offers
BUTTONS = {
    TaskStatus.WAITING: [("pause", "Pause"), ("cancel", "Cancel")],
    TaskStatus.SUBMITTING: [("pause", "Pause"), ("cancel", "Cancel")],
    TaskStatus.CALLING: [("pause", "Pause"), ("cancel", "Cancel")],
    TaskStatus.SUSPENDED: [("resume", "Resume"), ("cancel", "Cancel")],
}
PUSH_KINDS = [
    ("voice", "Status report URL", "push_url"),
    ("cc", "Call-center record URL", "cc_push_url"),
    ("ring", "Agent ringing URL", "ring_push_url"),
    ("sms", "SMS delivery report URL", "sms_push_url"),
]
CSV_COLUMNS = [
    "voiceId",
    "taskId",
    "callee",
    "displayNum",
    "submitTime",
    "answerTime",
    "hangupTime",
    "callDuration",
    "chargedDuration",
    "cost",
    "sipCode",
    "terminationReason",
    "feedbackValue",
]
#: what every console answer carries: no framing, no caching of account data, scripts and
#: styles from the console's own static files only
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=PackageLoader("voxcast.console", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def render(name: str, who: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(
        base=BASE, static=STATIC, who=who, status_names=STATUS_NAMES, **context
    )
    return HTMLResponse(html, status_code=status)


class Missing(Exception):
    """Answered 404: also what another account's task looks like."""


class GoTo(Exception):
    """Answered with a redirect to `target` (a console path)."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


_API_STATUS = {
    Code.NOT_FOUND: 404,
    Code.APP_PERMISSION: 404,
    Code.SCRIPT_NOT_FOUND: 404,
    Code.SYSTEM: 503,
}


class ConsoleRoute(APIRoute):
    """Console errors as pages: no session sends the browser to sign in, a refusal is 403,
    a missing object 404, a caller's mistake 400 with the service's own reason."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response = await _guarded(original, request)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


async def _guarded(
    original: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    try:
        return await original(request)
    except NotSignedIn:
        target = f"{BASE}/login"
        if request.method == "GET" and request.url.path != f"{BASE}/login":
            target += "?" + urlencode({"next": request.url.path})
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    except GoTo as go:
        return RedirectResponse(go.target, status_code=303)
    except Refused as err:
        return _error(request, 403, "Refused", err.message)
    except Missing:
        return _error(request, 404, "Not found", "There is no such page in this account.")
    except ApiError as err:
        status = _API_STATUS.get(err.code, 400)
        if status == 404:
            return _error(request, 404, "Not found", "There is no such page in this account.")
        return _error(request, status, "Not done", err.reason)
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("console error, incident %s", incident)
        return _error(request, 500, "Something went wrong", f"incident {incident}")


def _error(request: Request, status: int, heading: str, message: str) -> HTMLResponse:
    who = getattr(request.state, "console_who", None)
    return render("error.html", who, status, heading=heading, message=message)


router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)


async def _who(request: Request) -> Principal:
    who = await auth.principal(request)
    request.state.console_who = who
    return who


async def _account_user(request: Request) -> Principal:
    """The principal of an account page; an admin who has not opened an account is sent to
    the account list."""
    who = await _who(request)
    if who.account_id is None:
        raise GoTo(f"{BASE}/accounts")
    return who


def _rt(request: Request) -> Runtime:
    return auth.runtime_of(request)


def _id(text: str) -> int:
    """A path's numeric id; anything else is a page that does not exist."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise Missing
    return int(text)


async def _writer_form(request: Request) -> tuple[Principal, dict[str, str]]:
    """A form post that changes an account: signed in to one, its CSRF token checked, and the
    user allowed to write; the principal and the form's fields."""
    who = await _account_user(request)
    fields = await auth.posted_form(request, who, None)
    auth.require_writer(who)
    return who, fields


def _stamp(request: Request) -> dict[str, Any]:
    """The when and where of an audit entry made for `request`."""
    return {"now": _rt(request).wall.now(), "address": auth.address_of(request)}


async def _audit(
    request: Request, who: Principal, action: str, detail: str, account_id: int | None = None
) -> None:
    async with _rt(request).sessions.begin() as session:
        await console_users.audit(
            session, who, action, detail, account_id=account_id, **_stamp(request)
        )


# -- signing in and out --------------------------------------------------------------------------


@router.get("")
async def home(request: Request) -> Response:
    return RedirectResponse(f"{BASE}/dashboard", status_code=303)


def _login_page(
    request: Request, *, error: str | None = None, username: str = "", status: int = 200
) -> Response:
    token = auth.new_login_token()
    nxt = request.query_params.get("next", "")
    response = render(
        "login.html",
        None,
        status,
        login_csrf=token,
        next=nxt if nxt.startswith(f"{BASE}/") else "",
        username=username,
        error=error,
    )
    auth.set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await auth.posted_form(request, None, request.cookies.get(auth.LOGIN_CSRF_COOKIE))
    username = fields.get("username", "").strip()[:64]
    password = fields.get("password", "")[: console_users.MAX_PASSWORD]
    rt = _rt(request)
    throttle: auth.LoginThrottle = request.app.state.console_throttle
    address = auth.address_of(request)
    now = rt.wall.monotonic()
    try:
        throttle.check(username, address, now)
    except Throttled as err:
        return _login_page(request, error=str(err), username=username, status=429)
    async with rt.sessions.begin() as session:
        user = await console_users.verify_login(session, username, password)
        if user is None:
            await console_users.audit(
                session,
                None,
                "sign-in failed",
                "",
                now=rt.wall.now(),
                address=address,
                username=username,
            )
        else:
            token = await console_users.open_session(
                session, user, rt.wall.now(), auth.settings_of(request).lifetime
            )
            await console_users.audit(
                session,
                None,
                "signed in",
                f"role {user.role}",
                now=rt.wall.now(),
                address=address,
                username=user.username,
                account_id=user.account_id,
            )
    if user is None:
        throttle.failed(username, address, now)
        return _login_page(
            request, error="Wrong user name or password.", username=username, status=401
        )
    throttle.succeeded(username, address)
    nxt = fields.get("next", "")
    response = RedirectResponse(
        nxt if nxt.startswith(f"{BASE}/") else f"{BASE}/dashboard", status_code=303
    )
    lifetime = auth.settings_of(request).lifetime
    auth.set_cookie(
        request, response, auth.SESSION_COOKIE, token, int(lifetime.absolute.total_seconds())
    )
    auth.clear_cookie(response, auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = await _who(request)
    await auth.posted_form(request, who, None)
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        await console_users.close_session(session, request.cookies.get(auth.SESSION_COOKIE, ""))
    response = RedirectResponse(f"{BASE}/login", status_code=303)
    auth.clear_cookie(response, auth.SESSION_COOKIE)
    return response


# -- dashboard and tasks -----------------------------------------------------------------------


async def _task_rows(
    rt: Runtime, account_id: int, page: int, statuses: list[TaskStatus] | None
) -> tuple[list[dict[str, Any]], int]:
    params: dict[str, Any] = {"statusList": [int(s) for s in statuses]} if statuses else {}
    async with rt.readonly() as session:
        account = await accounts.get_account(session, account_id)
        return await tasks.query(session, account, current=page, size=PAGE_SIZE, params=params)


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        week = await overview.days_figures(session, account.id, rt.clock.now(), account.timezone)
    running, _ = await _task_rows(rt, who.account_id, 1, RUNNING)
    return render(
        "dashboard.html",
        who,
        here="dashboard",
        account=account,
        today=week[-1][1],
        week=overview.total(week),
        zone=account.timezone,
        tasks=running,
        calls_chart=_calls_chart(week),
        cost_chart=_cost_chart(week),
    )


def _day_title(day: date, f: overview.DayFigures) -> str:
    return (
        f"{day:%a %d %b}: {f.calls} calls, {f.answered} answered ({f.answer_rate:.1f}%), "
        f"average talk {f.average_talk:.1f} s, cost {f.cost:.4f}"
    )


def _calls_chart(week: list[tuple[date, overview.DayFigures]]) -> Markup:
    bars = [
        charts.Bar(f"{day:%a}", (f.answered, f.calls - f.answered), _day_title(day, f))
        for day, f in week
    ]
    return charts.bar_chart("chart-calls", "Calls per day", ("answered", "not answered"), bars)


def _cost_chart(week: list[tuple[date, overview.DayFigures]]) -> Markup:
    bars = [charts.Bar(f"{day:%a}", (float(f.cost),), _day_title(day, f)) for day, f in week]
    return charts.bar_chart("chart-cost", "Cost per day (USD)", ("cost",), bars)


@router.get("/dashboard/running")
async def dashboard_running(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    running, _ = await _task_rows(_rt(request), who.account_id, 1, RUNNING)
    return render("_task_table.html", who, tasks=running)


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return min(int(raw), 100_000) if raw.isdigit() and int(raw) >= 1 else 1


@router.get("/tasks")
async def task_list(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    page = _page(request)
    rows, total = await _task_rows(_rt(request), who.account_id, page, None)
    pages = max(1, -(-total // PAGE_SIZE))
    return render("tasks.html", who, here="tasks", tasks=rows, page=page, pages=pages, total=total)


@router.get("/tasks/rows")
async def task_rows(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    rows, _ = await _task_rows(_rt(request), who.account_id, _page(request), None)
    return render("_task_table.html", who, tasks=rows)


async def _detail(request: Request, who: Principal, task_id: str) -> dict[str, Any]:
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        return await tasks.detail(session, account, _id(task_id))


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> Response:
    who = await _account_user(request)
    task = await _detail(request, who, task_id)
    notice = request.query_params.get("done")
    return render(
        "task.html",
        who,
        here="tasks",
        task=task,
        actions=BUTTONS.get(TaskStatus(task["status"]), []),
        resendable=task["status"] in (TaskStatus.FINISHED, TaskStatus.CANCELED),
        notice=f"Task {notice}." if notice in ("paused", "resumed", "canceled") else None,
    )


@router.get("/tasks/{task_id}/progress")
async def task_progress(request: Request, task_id: str) -> Response:
    who = await _account_user(request)
    task = await _detail(request, who, task_id)
    return render("_task_progress.html", who, task=task)


@router.post("/tasks/{task_id}/{action}")
async def task_action(request: Request, task_id: str, action: str) -> Response:
    who, _ = await _writer_form(request)
    assert who.account_id is not None
    event = ACTIONS.get(action)
    if event is None:
        raise Missing
    number = _id(task_id)
    rt = _rt(request)
    try:
        async with rt.sessions.begin() as session:
            await tasks.change_status(
                session, who.account_id, [number], event=event, now=rt.clock.now()
            )
            await console_users.audit(
                session, who, f"task {action}", f"task {number}", **_stamp(request)
            )
    except IllegalTransition as err:
        raise ApiError(
            Code.TASK_STATE, f"task {err.task_id} is {STATUS_NAMES[TaskStatus(err.status)]}"
        ) from None
    done = {"pause": "paused", "resume": "resumed", "cancel": "canceled"}[action]
    return RedirectResponse(f"{BASE}/tasks/{number}?done={done}", status_code=303)


# -- call records ----------------------------------------------------------------------------


def _filter(request: Request) -> tuple[overview.RecordFilter, dict[str, str]]:
    """The records filter from the query string, and the query's fields as given."""
    q = request.query_params
    given = {k: q.get(k, "").strip()[:40] for k in ("task", "number", "outcome", "from", "to")}

    def day(key: str) -> date | None:
        if not given[key]:
            return None
        try:
            return date.fromisoformat(given[key])
        except ValueError:
            raise ApiError(Code.TIME_FORMAT, f"{key}: a day such as 2026-03-02") from None

    task_id = None
    if given["task"]:
        if not given["task"].isdigit() or not 1 <= int(given["task"]) <= MAX_ID:
            raise ApiError(Code.PARAMETER, "task: a task id")
        task_id = int(given["task"])
    flt = overview.RecordFilter(
        task_id=task_id,
        number=given["number"],
        outcome=given["outcome"],
        day_from=day("from"),
        day_to=day("to"),
    )
    return flt, given


@router.get("/records")
async def records(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    flt, given = _filter(request)
    page = _page(request)
    rt = _rt(request)
    async with rt.readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        rows, total = await overview.record_page(
            session, account.id, account.timezone, flt, page=page, size=PAGE_SIZE
        )
    query = urlencode({k: v for k, v in given.items() if v})
    return render(
        "records.html",
        who,
        here="records",
        records=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        f=given,
        query=query,
    )


def _cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading '."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def csv_row(rec: Any) -> list[str]:
    def iso(value: Any) -> str:
        return value.isoformat(timespec="seconds") if value else ""

    return [
        _cell(v)
        for v in (
            rec.voice_id,
            rec.task_id,
            rec.callee,
            rec.display_num,
            iso(rec.submit_time),
            iso(rec.answer_time),
            iso(rec.hangup_time),
            rec.call_duration,
            rec.charged_duration,
            f"{rec.cost:.6f}",
            rec.sip_code,
            rec.termination_reason,
            rec.feedback_value,
        )
    ]


@router.get("/records.csv")
async def records_csv(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    account_id = who.account_id
    flt, _ = _filter(request)
    rt = _rt(request)
    async with rt.readonly() as session:
        zone_name = (await accounts.get_account(session, account_id)).timezone

    async def lines() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield out.getvalue().encode()
        async for page in overview.stream_records(rt.readonly, account_id, zone_name, flt):
            out.seek(0)
            out.truncate()
            writer.writerows(csv_row(r) for r in page)
            yield out.getvalue().encode()

    filename = f"voxcast-records-{account_id}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- developer settings ----------------------------------------------------------------------


async def _developer(
    request: Request, who: Principal, *, new_key: keys.NewKey | None = None, **extra: Any
) -> Response:
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        account = await accounts.get_account(session, who.account_id)
        key_rows = await keys.list_keys(session, who.account_id)
        apps = await keys.list_apps(session, who.account_id)
    app_urls = {
        a.app_id: [(kind, label, getattr(a, column)) for kind, label, column in PUSH_KINDS]
        for a in apps
    }
    return render(
        "developer.html",
        who,
        here="developer",
        account=account,
        keys=key_rows,
        apps=apps,
        app_urls=app_urls,
        new_key=new_key,
        **extra,
    )


@router.get("/developer")
async def developer(request: Request) -> Response:
    who = await _account_user(request)
    notice = request.query_params.get("done")
    return await _developer(request, who, notice=notice if notice in _DONE.values() else None)


_DONE = {
    "push": "Push URL saved.",
    "app": "App created.",
    "whitelist": "IP whitelist saved.",
    "enable": "Key enabled.",
    "disable": "Key disabled.",
}


def _back(done: str) -> Response:
    return RedirectResponse(f"{BASE}/developer?{urlencode({'done': _DONE[done]})}", 303)


@router.post("/developer/keys")
async def create_key(request: Request) -> Response:
    who, _ = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        new = await keys.create_key(session, rt.secrets, who.account_id, rt.clock.now())
        await console_users.audit(session, who, "api key created", new.api_key, **_stamp(request))
    # the secret is in this answer only (not a redirect to a page that could show it again)
    return await _developer(request, who, new_key=new)


@router.post("/developer/keys/{api_key}/{action}")
async def key_state(request: Request, api_key: str, action: str) -> Response:
    who, _ = await _writer_form(request)
    assert who.account_id is not None
    if action not in ("enable", "disable"):
        raise Missing
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        await keys.set_key_enabled(session, who.account_id, api_key, action == "enable")
        await console_users.audit(session, who, f"api key {action}d", api_key, **_stamp(request))
    return _back(action)


@router.post("/developer/apps")
async def create_app(request: Request) -> Response:
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        app = await keys.create_app(session, who.account_id, fields.get("name", ""), rt.clock.now())
        await console_users.audit(
            session, who, "app created", f"{app.app_id} {app.name}", **_stamp(request)
        )
    return _back("app")


@router.post("/developer/apps/{app_id}/push")
async def set_push(request: Request, app_id: str) -> Response:
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    kind = fields.get("kind", "")
    url = fields.get("url", "").strip()
    if len(url) > 2000:
        raise ApiError(Code.PARAMETER, "url: at most 2000 characters")
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        app = await accounts.require_app(session, who.account_id, app_id)
        if kind == "voice":
            await accounts.set_push(
                session, rt.secrets, app.app_id, url=url, batch=app.push_batch, secret=None
            )
        elif kind in ("cc", "ring"):
            await accounts.set_cc_push(session, app.app_id, url=url, ringing=kind == "ring")
        elif kind == "sms":
            await accounts.set_sms_push(session, app.app_id, url=url)
        else:
            raise ApiError(Code.PARAMETER, "kind: voice, cc, ring or sms")
        await console_users.audit(
            session,
            who,
            "push url set",
            f"{app.app_id} {kind}: {url or '(none)'}",
            **_stamp(request),
        )
    return _back("push")


@router.post("/developer/apps/{app_id}/test-push")
async def test_push(request: Request, app_id: str) -> Response:
    who, _ = await _writer_form(request)
    assert who.account_id is not None
    kind = request.query_params.get("kind", "")
    result = await testpush.send_test_push(_rt(request), who.account_id, app_id, kind)
    await _audit(request, who, "test push", f"{app_id} {kind}: {result.status or result.error}")
    return render("_push_answer.html", who, result=result)


@router.post("/developer/whitelist")
async def set_whitelist(request: Request) -> Response:
    who, fields = await _writer_form(request)
    assert who.account_id is not None
    ips = fields.get("ips", "")[:4000]
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, who.account_id, ips)
        await console_users.audit(
            session, who, "ip whitelist set", ips or "(any address)", **_stamp(request)
        )
    return _back("whitelist")


# -- audit log and the admin's accounts --------------------------------------------------------


@router.get("/audit")
async def audit_log(request: Request) -> Response:
    who = await _account_user(request)
    assert who.account_id is not None
    rt = _rt(request)
    async with rt.readonly() as session:
        entries = await console_users.recent_audit(session, who.account_id, 200)
    return render("audit.html", who, here="audit", entries=entries)


@router.get("/accounts")
async def account_list(request: Request) -> Response:
    who = await _who(request)
    if who.role != console_users.Role.ADMIN:
        raise Missing
    rt = _rt(request)
    async with rt.readonly() as session:
        rows = await console_users.list_accounts(session)
    return render("accounts.html", who, here="accounts", accounts=rows)


@router.post("/accounts/pick")
async def pick_account(request: Request) -> Response:
    who = await _who(request)
    fields = await auth.posted_form(request, who, None)
    if who.role != console_users.Role.ADMIN:
        raise Missing
    account_id = _id(fields.get("account", ""))
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        await console_users.pick_account(
            session, request.cookies.get(auth.SESSION_COOKIE, ""), account_id
        )
        await console_users.audit(
            session,
            who,
            "account opened",
            f"account {account_id}",
            account_id=account_id,
            **_stamp(request),
        )
    return RedirectResponse(f"{BASE}/dashboard", status_code=303)
