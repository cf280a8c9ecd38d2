"""Who a console request is: the session cookie, CSRF tokens on every POST, the sign-in
throttle, and the cookie flags (HttpOnly, SameSite=Lax, Secure over https)."""

from __future__ import annotations

import hmac
import ipaddress
import math
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from fastapi import Request, Response

from voxcast.api.routing import client_ip
from voxcast.console.settings import ConsoleSettings
from voxcast.runtime import Runtime
from voxcast.services import console_users
from voxcast.services.console_users import Principal

SESSION_COOKIE = "voxcast_console"
LOGIN_CSRF_COOKIE = "voxcast_console_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: (user name, address) pairs and names tracked at once; the oldest are forgotten first
MAX_TRACKED = 10_000


class NotSignedIn(Exception):
    """No live session: pages send the browser to the sign-in page."""


class Refused(Exception):
    """A request the principal may not make (403), or a POST without its CSRF token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Throttled(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {seconds} s")
        self.seconds = seconds


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float | None = None


class _Counter:
    """Failures per key within a window; `limit` of them lock the key out for a while."""

    def __init__(self, limit: int, window_s: float, lockout_s: float) -> None:
        self.limit, self.window_s, self.lockout_s = limit, window_s, lockout_s
        self._keys: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def locked_for(self, key: tuple[str, str], now: float) -> float:
        entry = self._keys.get(key)
        if entry is None or entry.locked_until is None:
            return 0.0
        if now >= entry.locked_until:
            del self._keys[key]
            return 0.0
        return entry.locked_until - now

    def failed(self, key: tuple[str, str], now: float) -> None:
        entry = self._keys.pop(key, None) or _Failures()
        self._keys[key] = entry
        while entry.times and entry.times[0] <= now - self.window_s:
            entry.times.popleft()
        entry.times.append(now)
        if len(entry.times) >= self.limit:
            entry.times.clear()
            entry.locked_until = now + self.lockout_s
        while len(self._keys) > MAX_TRACKED:
            self._keys.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        self._keys.pop(key, None)


class LoginThrottle:
    """One process's count of failed sign-ins: per (user name, address), and per user name from
    any address (ten times the limit), so neither one address nor many can guess on and on.
    A locked-out attempt is refused before its password is checked. `failures` 0: off."""

    def __init__(self, failures: int, window_s: float, lockout_s: float) -> None:
        self.enabled = failures > 0
        self._pairs = _Counter(max(failures, 1), window_s, lockout_s)
        self._names = _Counter(max(failures, 1) * 10, window_s, lockout_s)

    def check(self, username: str, address: str | None, now: float) -> None:
        if not self.enabled:
            return
        name = username.lower()[:64]
        left = max(
            self._pairs.locked_for((name, address or ""), now),
            self._names.locked_for((name, ""), now),
        )
        if left > 0:
            raise Throttled(math.ceil(left))

    def failed(self, username: str, address: str | None, now: float) -> None:
        if self.enabled:
            name = username.lower()[:64]
            self._pairs.failed((name, address or ""), now)
            self._names.failed((name, ""), now)

    def succeeded(self, username: str, address: str | None) -> None:
        self._pairs.forget((username.lower()[:64], address or ""))


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def settings_of(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.console_settings
    return settings


def address_of(request: Request) -> str | None:
    return client_ip(request, runtime_of(request).settings.trusted_proxies)


def over_https(request: Request) -> bool:
    """Whether the browser reached us over https: directly, or through a trusted proxy
    (VOXCAST_TRUST_X_FORWARDED_FOR) that says so in X-Forwarded-Proto; uvicorn's own proxy
    header handling is off (see `serve`)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    try:
        ip = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if not any(ip in net for net in runtime_of(request).settings.trusted_proxies):
        return False
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return proto == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    mode = settings_of(request).secure_cookies
    secure = mode == "always" or (mode == "auto" and over_https(request))
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/console", httponly=True, samesite="lax")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def principal(request: Request) -> Principal:
    """The signed-in principal, else NotSignedIn."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn
    rt = runtime_of(request)
    async with rt.sessions.begin() as session:
        who = await console_users.resolve(
            session, token, rt.wall.now(), settings_of(request).lifetime
        )
    if who is None:
        raise NotSignedIn
    return who


async def posted_form(
    request: Request, who: Principal | None, expected: str | None
) -> dict[str, str]:
    """The POST's form fields, once its CSRF token is checked against the session's (or, on the
    sign-in form, the pre-session cookie's): a missing or wrong token is refused."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    sent = fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    wanted = who.csrf_token if who is not None else expected
    if not wanted or not sent or not hmac.compare_digest(sent.encode(), wanted.encode()):
        raise Refused("the form's security token is missing or stale; reload the page and retry")
    return fields


def require_writer(who: Principal) -> None:
    if not who.can_write:
        raise Refused("a read-only user cannot change anything")
