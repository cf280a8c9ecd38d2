"""The platform admin's pages: accounts (creation, balance, settings), rates import, trunks
(registration state, add, retire, a test call) and console users, each through the same service
functions as `voxcast admin`; every change is audited."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from voxcast.console import auth
from voxcast.console.pages import (
    BASE,
    PAGE_SIZE,
    ConsoleRoute,
    _id,
    _page,
    _rt,
    _stamp,
    _who,
    render,
)
from voxcast.domain.codes import ApiError, Code
from voxcast.services import accounts, console_users, rates, trunks
from voxcast.services.console_users import Principal, Role

router = APIRouter(prefix=f"{BASE}/admin", route_class=ConsoleRoute, include_in_schema=False)

#: refused lines of a rates file the page lists (all are counted)
SHOWN_ERRORS = 200
#: a rates file larger than this is refused (the CLI takes any size)
MAX_UPLOAD = 20 * 1024 * 1024
#: rows of the platform's audit log (sign-ins, trunks, platform rates) the users page shows
PLATFORM_AUDIT = 100
#: an amount beyond this is a typing mistake, and would not fit the balance column
MAX_AMOUNT = Decimal(10) ** 12
#: the account settings form: field, label, the service's keyword, whole number or text
SETTINGS = [
    ("billPeriod", "Billing period", "bill_period", False),
    ("maxCps", "Calls per second", "max_cps", True),
    ("maxChannels", "Calls at once", "max_channels", True),
    ("maxConcurrentTasks", "Active tasks", "max_concurrent_tasks", True),
    ("timezone", "Time zone", "timezone", False),
    ("callingHours", "Calling hours", "calling_hours", False),
]


class _CallOutcome(Protocol):
    """What the page shows of a test call (voxcast.telephony.onecall.Outcome)."""

    @property
    def sip_code(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def answered(self) -> bool: ...
    @property
    def hung_up_by(self) -> str: ...
    @property
    def talk_s(self) -> float: ...
    @property
    def trace(self) -> list[str]: ...


async def _admin(request: Request) -> Principal:
    who = await _who(request)
    if who.role != Role.ADMIN:
        raise auth.Refused("only a platform admin may open this page")
    return who


async def _admin_form(request: Request) -> tuple[Principal, dict[str, str]]:
    """A platform admin's form post, its CSRF token checked."""
    who = await _admin(request)
    return who, await auth.posted_form(request, who, None)


async def _audit(
    request: Request, who: Principal, action: str, detail: str, account_id: int | None
) -> None:
    """An audit row: of `account_id`'s log, or (None) the platform's, whichever account the
    admin's session looks at."""
    acting = dataclasses.replace(who, account_id=account_id)
    async with _rt(request).sessions.begin() as session:
        await console_users.audit(session, acting, action, detail, **_stamp(request))


def _amount(raw: str, field: str) -> tuple[Decimal, bool]:
    """An amount as `admin set-balance --amount` reads it: N sets, +N / -N adjusts."""
    text = raw.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ApiError(Code.PARAMETER, f"{field}: {text[:32]!r} is not an amount") from None
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise ApiError(Code.PARAMETER, f"{field}: {text[:32]!r} is not an amount")
    return value, text.startswith(("+", "-"))


def _whole(raw: str, field: str) -> int:
    text = raw.strip()
    if not text.isdigit() or len(text) > 9:
        raise ApiError(Code.PARAMETER, f"{field}: {text[:32]!r} is not a whole number")
    return int(text)


def _trunk_error(err: trunks.TrunkError) -> ApiError:
    # the service names the CLI's options; the form's fields carry the same names
    return ApiError(Code.PARAMETER, str(err).replace("--", ""))


# -- accounts ----------------------------------------------------------------------------------


async def _accounts_page(
    request: Request, who: Principal, status: int = 200, **extra: Any
) -> Response:
    async with _rt(request).readonly() as session:
        rows = await console_users.list_accounts(session)
    return render("admin_accounts.html", who, status, here="admin-accounts", accounts=rows, **extra)


@router.get("/accounts")
async def account_list(request: Request) -> Response:
    return await _accounts_page(request, await _admin(request))


@router.post("/accounts/create")
async def account_create(request: Request) -> Response:
    """`admin create-account`: the generated key and secret are shown on this answer only."""
    who, fields = await _admin_form(request)
    name = fields.get("name", "").strip()
    if not 1 <= len(name) <= 128:
        raise ApiError(Code.PARAMETER, "name: 1-128 characters")
    balance, _ = _amount(fields.get("balance", "") or "0", "balance")
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name=name, balance=balance
        )
        await console_users.audit(
            session,
            dataclasses.replace(who, account_id=creds.account_id),
            "account created",
            f"{name}: balance {balance:.2f}, apiKey {creds.api_key}, appId {creds.app_id}",
            **_stamp(request),
        )
    return await _accounts_page(request, who, created=creds, created_name=name)


async def _account_page(
    request: Request, who: Principal, account_id: int, status: int = 200, **extra: Any
) -> Response:
    async with _rt(request).readonly() as session:
        account = await accounts.get_account(session, account_id)
        audit = await console_users.recent_audit(session, account_id, 20)
    return render(
        "admin_account.html",
        who,
        status,
        here="admin-accounts",
        account=account,
        settings=SETTINGS,
        entries=audit,
        **extra,
    )


@router.get("/accounts/{account_id}")
async def account_page(request: Request, account_id: str) -> Response:
    return await _account_page(request, await _admin(request), _id(account_id))


@router.post("/accounts/{account_id}/balance")
async def account_balance(request: Request, account_id: str) -> Response:
    """`admin set-balance`: a plain amount sets the balance, +N tops it up, -N takes off."""
    who, fields = await _admin_form(request)
    target = _id(account_id)
    value, relative = _amount(fields.get("amount", ""), "amount")
    async with _rt(request).sessions.begin() as session:
        old = (await accounts.get_account(session, target)).balance
        new = await accounts.set_balance(session, target, value, relative=relative)
        await console_users.audit(
            session,
            dataclasses.replace(who, account_id=target),
            "balance set" if not relative else "balance adjusted",
            f"{old:.6f} -> {new:.6f} ({fields.get('amount', '').strip()[:32]})",
            **_stamp(request),
        )
    return await _account_page(request, who, target, notice=f"Balance is now {new:.6f}.")


@router.post("/accounts/{account_id}/settings")
async def account_settings(request: Request, account_id: str) -> Response:
    """`admin set-account`: an empty field keeps its value; calling hours "off" removes them."""
    who, fields = await _admin_form(request)
    target = _id(account_id)
    given: dict[str, Any] = {}
    for field, _label, keyword, whole in SETTINGS:
        raw = fields.get(field, "").strip()[:64]
        if raw:
            given[keyword] = _whole(raw, field) if whole else raw
    if not given:
        raise ApiError(Code.PARAMETER, "settings: change at least one field")
    async with _rt(request).sessions.begin() as session:
        a = await accounts.update_settings(session, target, **given)
        summary = (
            f"billPeriod {a.bill_period}, maxCps {a.max_cps}, maxChannels {a.max_channels}, "
            f"maxConcurrentTasks {a.max_concurrent_tasks}, timezone {a.timezone}, "
            f"callingHours {a.calling_hours or 'off'}"
        )
        await console_users.audit(
            session,
            dataclasses.replace(who, account_id=target),
            "account settings",
            summary,
            **_stamp(request),
        )
    return await _account_page(request, who, target, notice=f"Settings saved: {summary}.")


# -- rates ---------------------------------------------------------------------------------------


def _rate_list(raw: str) -> int | None:
    """The rates form's list: "" the platform's, else an account id."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise ApiError(Code.PARAMETER, f"account: {text[:32]!r} is not an account id")
    return int(text)


async def _rates_page(
    request: Request, who: Principal, account_id: int | None, status: int = 200, **extra: Any
) -> Response:
    page = _page(request)
    async with _rt(request).readonly() as session:
        if account_id is not None:
            await accounts.get_account(session, account_id)
        rows, total = await rates.rate_page(session, account_id, page, PAGE_SIZE)
    return render(
        "admin_rates.html",
        who,
        status,
        here="admin-rates",
        list_id="" if account_id is None else str(account_id),
        rates=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        query=urlencode({"account": account_id} if account_id is not None else {}),
        **extra,
    )


@router.get("/rates")
async def rate_list(request: Request) -> Response:
    who = await _admin(request)
    return await _rates_page(request, who, _rate_list(request.query_params.get("account", "")))


@router.post("/rates/import")
async def rate_import(request: Request) -> Response:
    """`admin rates import`: the same parser; good rows are set, bad lines reported."""
    who, fields = await _admin_form(request)
    account_id = _rate_list(fields.get("account", ""))
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ApiError(Code.PARAMETER, "file: choose a rates CSV file (prefix,rate[,description])")
    upload.file.seek(0, io.SEEK_END)
    if upload.file.tell() > MAX_UPLOAD:
        raise ApiError(Code.PARAMETER, f"file: over {MAX_UPLOAD // 1024 // 1024} MB; use the CLI")
    upload.file.seek(0)
    text = io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")
    try:
        rows, errors = rates.parse_rate_csv(text)
    except UnicodeDecodeError:
        raise ApiError(Code.PARAMETER, "file: not UTF-8 text") from None
    finally:
        text.detach()
    owner = "the platform list" if account_id is None else f"account {account_id}"
    async with _rt(request).sessions.begin() as session:
        imported = await rates.import_rows(session, account_id, rows)
        await console_users.audit(
            session,
            dataclasses.replace(who, account_id=account_id),
            "rates imported",
            f"{upload.filename[:64]} into {owner}: {imported} rates, {len(errors)} lines skipped",
            **_stamp(request),
        )
    report = {
        "file": upload.filename,
        "owner": owner,
        "imported": imported,
        "skipped": len(errors),
        "errors": errors[:SHOWN_ERRORS],
    }
    return await _rates_page(request, who, account_id, report=report)


# -- trunks --------------------------------------------------------------------------------------


def _states(request: Request) -> dict[str, str] | None:
    """This process's trunk registrations, when it dials (`serve --dialer inline`)."""
    found: Callable[[], dict[str, str]] | None = getattr(request.app.state, "trunk_states", None)
    return None if found is None else found()


async def _trunks_page(
    request: Request, who: Principal, status: int = 200, **extra: Any
) -> Response:
    async with _rt(request).readonly() as session:
        rows = await trunks.list_trunks(session)
    states = _states(request)
    shown = []
    for t in rows:
        if not t.register:
            state = "not asked (no registration)"
        elif states is None:
            state = "kept by the worker process (its /readyz)"
        else:
            state = states.get(t.name, "not started (registers on its first call)")
        shown.append((t, state))
    return render("admin_trunks.html", who, status, here="admin-trunks", trunks=shown, **extra)


@router.get("/trunks")
async def trunk_list(request: Request) -> Response:
    return await _trunks_page(request, await _admin(request))


def _port(raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 5:
        raise ApiError(Code.PARAMETER, f"port: {text[:32]!r} is not a port number")
    return int(text)


@router.post("/trunks/add")
async def trunk_add(request: Request) -> Response:
    """`admin trunk add` for the plain options (TLS files stay with the CLI)."""
    who, fields = await _admin_form(request)

    def text(name: str) -> str | None:
        return fields.get(name, "").strip()[:255] or None

    spec = trunks.TrunkSpec(
        name=fields.get("name", "").strip()[:64],
        host=fields.get("host", "").strip()[:255],
        port=_port(fields.get("port", "")),
        transport=fields.get("transport", "udp").strip().lower()[:8],
        username=text("username"),
        password=fields.get("password", "")[:255] or None,
        realm=text("realm"),
        caller_id=text("caller_id"),
        max_channels=_whole(fields.get("max_channels", "") or "0", "max_channels"),
        max_cps=_whole(fields.get("max_cps", "") or "0", "max_cps"),
        codecs=fields.get("codecs", "").strip()[:32] or "pcmu,pcma",
        register=fields.get("register") == "on",
        srtp=fields.get("srtp", "off").strip().lower()[:16],
    )
    rt = _rt(request)
    try:
        async with rt.sessions.begin() as session:
            await trunks.add_trunk(
                session, rt.secrets, spec, rt.clock.now(), replace=fields.get("replace") == "on"
            )
            await console_users.audit(
                session,
                dataclasses.replace(who, account_id=None),
                "trunk added",
                f"{spec.name}: {spec.host}:{spec.port or 'DNS'} over {spec.transport}",
                **_stamp(request),
            )
    except trunks.TrunkError as err:
        raise _trunk_error(err) from None
    return await _trunks_page(request, who, notice=f"Trunk {spec.name} added.")


@router.post("/trunks/{name}/remove")
async def trunk_remove(request: Request, name: str) -> Response:
    """`admin trunk remove`: refused while an account's calls use it."""
    who, _fields = await _admin_form(request)
    try:
        async with _rt(request).sessions.begin() as session:
            await trunks.remove_trunk(session, name[:64])
            await console_users.audit(
                session,
                dataclasses.replace(who, account_id=None),
                "trunk removed",
                name[:64],
                **_stamp(request),
            )
    except trunks.TrunkError as err:
        raise _trunk_error(err) from None
    return await _trunks_page(request, who, notice=f"Trunk {name[:64]} removed.")


@router.post("/trunks/{name}/test")
async def trunk_test(request: Request, name: str) -> Response:
    """One call through the trunk, as `voxcast call` places it: a second of silence, then
    hang up; the page shows the SIP code and reason and the messages exchanged."""
    who, fields = await _admin_form(request)
    number = fields.get("number", "").strip()
    if not number.lstrip("+").isdigit() or not 3 <= len(number) <= 20:
        raise ApiError(Code.PARAMETER, "number: 3-20 digits (an optional leading +)")
    tester: Callable[[str, str], Awaitable[_CallOutcome]] | None = getattr(
        request.app.state, "trunk_tester", None
    )
    if tester is None:
        raise ApiError(Code.PARAMETER, "test calls are placed by `voxcast serve` only")
    try:
        outcome = await tester(name[:64], number)
    except trunks.TrunkError as err:
        raise _trunk_error(err) from None
    await _audit(
        request,
        who,
        "trunk tested",
        f"{name[:64]} to {number}: {outcome.sip_code} {outcome.reason}",
        None,
    )
    return await _trunks_page(request, who, tested=name[:64], number=number, outcome=outcome)


# -- console users -------------------------------------------------------------------------------


async def _users_page(
    request: Request, who: Principal, status: int = 200, **extra: Any
) -> Response:
    async with _rt(request).readonly() as session:
        users = await console_users.list_users(session)
        platform = await console_users.recent_audit(session, None, PLATFORM_AUDIT)
    return render(
        "admin_users.html",
        who,
        status,
        here="admin-users",
        users=users,
        roles=list(Role),
        entries=platform,
        **extra,
    )


@router.get("/users")
async def user_list(request: Request) -> Response:
    return await _users_page(request, await _admin(request))


@router.post("/users/create")
async def user_create(request: Request) -> Response:
    """`admin create-user`: role admin (no account), owner or readonly (of an account)."""
    who, fields = await _admin_form(request)
    username = fields.get("username", "").strip()[:64]
    raw_role = fields.get("role", "")
    try:
        role = Role(raw_role)
    except ValueError:
        raise ApiError(Code.PARAMETER, "role: admin, owner or readonly") from None
    raw_account = fields.get("account_id", "").strip()
    account_id = _whole(raw_account, "account-id") if raw_account else None
    try:
        user_id = await _new_user(request, who, fields, username, role, account_id)
    except ApiError as err:
        if err.code != Code.NOT_FOUND:
            raise
        raise ApiError(Code.PARAMETER, f"account-id: {err.detail}") from None
    where = f" of account {account_id}" if account_id is not None else ""
    return await _users_page(
        request, who, notice=f"Console user {user_id}: {username} ({role.value}{where}) created."
    )


async def _new_user(
    request: Request,
    who: Principal,
    fields: dict[str, str],
    username: str,
    role: Role,
    account_id: int | None,
) -> int:
    rt = _rt(request)
    async with rt.sessions.begin() as session:
        user = await console_users.create_user(
            session,
            username=username,
            password=fields.get("password", "")[: console_users.MAX_PASSWORD + 1],
            role=role,
            account_id=account_id,
            now=rt.wall.now(),
        )
        await console_users.audit(
            session,
            dataclasses.replace(who, account_id=account_id),
            "user created",
            f"{username} ({role.value})",
            **_stamp(request),
        )
        return user.id
