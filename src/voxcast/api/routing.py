"""The route class every vendor endpoint uses: Sign check, JSON body rule, errors as envelopes.

Order for each request: authenticate (-1/-16/-2…), then require a JSON body whatever the
Content-Type says (-18 when it is not JSON), then FastAPI's model validation (-22 naming the
field), then the endpoint. Every failure is answered with the endpoint's own envelope family.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from voxcast.api.base import STORABLE_PATTERN
from voxcast.api.deps import runtime
from voxcast.api.envelope import Family, error_response
from voxcast.config import Network
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.services.signguard import SignGuard
from voxcast.storage.models import Account

log = logging.getLogger("voxcast.api")

ENVELOPE_KEY = "x-envelope"
#: bodies above this (a task with tens of thousands of numbers) pause the cyclic garbage
#: collector while they are handled: they allocate millions of short-lived objects and would
#: otherwise trigger full collections over and over (measured: 4x slower intake)
BULK_BODY_BYTES = 1_000_000
_gc_pauses = 0


def _pause_gc() -> None:
    global _gc_pauses
    if _gc_pauses == 0:
        gc.disable()
    _gc_pauses += 1


def _resume_gc() -> None:
    global _gc_pauses
    _gc_pauses -= 1
    if _gc_pauses == 0:
        gc.enable()


PUBLIC_KEY = "x-public"


def envelope(family: Family, *, public: bool = False) -> dict[str, Any]:
    """`openapi_extra` for a route: which envelope it answers with, whether it skips auth."""
    extra: dict[str, Any] = {ENVELOPE_KEY: family.value}
    if public:
        extra[PUBLIC_KEY] = True
    return extra


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(request: Request, proxies: Sequence[Network]) -> str | None:
    """The address IP whitelists check: the TCP peer, unless the peer is one of the trusted
    `proxies`; then X-Forwarded-For is walked from the right (each proxy appends the address it
    saw) past trusted proxies, and the first other address is the client. Addresses further
    left were written by the client itself and are never believed."""
    peer = request.client.host if request.client else None
    if peer is None or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for value in request.headers.getlist("x-forwarded-for")
        for hop in value.split(",")
        if hop.strip()
    ]
    address = peer
    for hop in reversed(hops):
        address = hop
        # a malformed hop is returned as it is: no whitelist entry matches it
        if not _trusted(hop, proxies):
            break
    return address


def format_loc(loc: Sequence[int | str]) -> str:
    """('body', 'numberInfoList', 3, 'calleeNumber') → 'numberInfoList[3].calleeNumber'."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and out == "":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_reason(exc: RequestValidationError) -> tuple[Code, str]:
    """The first problem, named by field, in words a caller can act on."""
    errors = exc.errors()
    if not errors:
        return Code.PARAMETER, "invalid request"
    first = errors[0]
    field = format_loc(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return Code.SYSTEM, "request body is not valid JSON"
    msg = str(first.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    kind = first.get("type")
    if kind == "missing":
        msg = "is required"
    elif kind == "string_pattern_mismatch" and first.get("ctx", {}).get("pattern") == (
        STORABLE_PATTERN
    ):
        msg = "must not contain a NUL character"
    elif kind == "string_unicode":
        msg = "must be valid Unicode text"
    elif kind in ("too_short", "too_long") and isinstance(first.get("input"), str):
        # a length bound behind a before-validator is checked generically: pydantic then
        # counts "items"; a caller sent text, so say characters
        ctx = first.get("ctx", {})
        if kind == "too_short":
            msg = f"should have at least {ctx.get('min_length')} characters"
        else:
            msg = f"should have at most {ctx.get('max_length')} characters"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return Code.PARAMETER, f"{field}: {msg}{more}"


class VendorRoute(APIRoute):
    """An APIRoute that applies the vendor's auth, body and envelope rules."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        extra = self.openapi_extra or {}
        family = Family(extra.get(ENVELOPE_KEY, Family.STATUS.value))
        public = bool(extra.get(PUBLIC_KEY, False))
        wants_body = self.body_field is not None

        async def handler(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            bulk = wants_body and declared.isdigit() and int(declared) > BULK_BODY_BYTES
            if bulk:
                _pause_gc()
            try:
                return await run(request)
            finally:
                if bulk:
                    _resume_gc()

        async def run(request: Request) -> Response:
            try:
                rt = runtime(request)
                if not public:
                    request.state.account = await _authenticate(request, rt)
                if wants_body:
                    await _require_json(request, rt)
                return await original(request)
            except ApiError as err:
                return error_response(family, err)
            except RequestValidationError as exc:
                code, reason = validation_reason(exc)
                return error_response(family, ApiError(code, reason))
            except Exception:
                incident = uuid.uuid4().hex[:12]
                log.exception("unexpected error, incident %s", incident)
                return error_response(family, ApiError(Code.SYSTEM, f"incident {incident}"))

        return handler


#: answers that come after the Sign matched: the caller holds the secret
_SIGN_MATCHED = frozenset(
    {Code.TIMESTAMP, Code.API_KEY_DISABLED, Code.USER_LOCKED, Code.IP_RESTRICTED}
)


async def _authenticate(request: Request, rt: Runtime) -> Account:
    """The Sign check, behind the failed-signature lock-out (docs/security.md): a locked-out
    (Api-Key, address) pair is answered -15 before its key is looked up or its Sign computed."""
    guard: SignGuard = request.app.state.sign_guard
    api_key = request.headers.get("api-key")
    timestamp = request.headers.get("timestamp")
    sign = request.headers.get("sign")
    ip = client_ip(request, rt.settings.trusted_proxies)
    # a request missing a header never had its Sign checked: it is neither counted nor refused
    counted = api_key if api_key and timestamp and sign else None
    now = rt.wall.monotonic()
    if counted:
        guard.check(counted, ip, now)
    try:
        account = await accounts.authenticate_cached(
            rt.readonly,
            rt.secrets,
            rt.auth_cache,
            api_key=api_key,
            timestamp=timestamp,
            sign=sign,
            client_ip=ip,
            now=rt.wall.now(),
            skew_seconds=rt.settings.sign_skew_seconds,
        )
    except ApiError as err:
        if counted and err.code == Code.AUTH:
            guard.failed(counted, ip, now)
        elif counted and err.code in _SIGN_MATCHED:
            guard.succeeded(counted, ip)
        raise
    if counted:
        guard.succeeded(counted, ip)
    return account


async def _read_capped(request: Request, limit: int) -> bytes:
    """The whole body, read chunk by chunk and refused (-23) as soon as it passes `limit`:
    a chunked body declares no length, and reading it all first lets one request fill memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(Code.CAPS, f"request body is over {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    request._body = raw  # Starlette's cache: the stream cannot be read twice
    return raw


async def _require_json(request: Request, rt: Runtime) -> None:
    """Parse the body as JSON whatever the Content-Type, as the vendor does; else -18."""
    declared = request.headers.get("content-length")
    limit = rt.settings.max_request_bytes
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(Code.CAPS, f"request body is over {limit} bytes")
    raw = await _read_capped(request, limit)
    if not raw.strip():
        raise ApiError(Code.SYSTEM, "request body is empty; a JSON object is required")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(Code.SYSTEM, "request body is not valid JSON") from None
    except RecursionError:
        # the parser recurses once per level: ~1,000 levels of [ or { exhaust the stack
        raise ApiError(Code.SYSTEM, "request body is nested too deeply") from None
    request._json = parsed  # Starlette's cache: FastAPI reads the parsed body from here
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    request.scope["headers"] = headers
    if hasattr(request, "_headers"):
        del request._headers


_SLASHES = re.compile(r"/{2,}")
_RAW_SLASHES = re.compile(rb"/{2,}")


def normalize_path(path: str) -> str:
    """The path a vendor route is matched on: repeated slashes merged, no trailing slash.

    Served in place rather than redirected: Java's HttpURLConnection does not follow a 307
    for a POST, so `/v3/getBalance/` must answer like `/v3/getBalance`; and a public Java
    client joins its base URL and path into `//voice/sendGroup`, which servers behind nginx
    (merge_slashes on by default) accept. The Sign covers key, secret and timestamp only, so
    a rewritten path cannot change whether a request is authentic.
    """
    trimmed = _SLASHES.sub("/", path).rstrip("/")
    return trimmed or "/"


class NormalizePath:
    """ASGI middleware: rewrites the request path with `normalize_path` before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            fixed = normalize_path(path)
            if fixed != path:
                scope = dict(scope)
                scope["path"] = fixed
                raw = scope.get("raw_path")
                if isinstance(raw, bytes):
                    # the raw path keeps its percent-encoding; only its slashes change
                    scope["raw_path"] = _RAW_SLASHES.sub(b"/", raw).rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
