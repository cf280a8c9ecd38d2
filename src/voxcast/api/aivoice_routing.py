"""The AiVoice family's route class and path matching: the same Sign check and JSON body rule as
every vendor route, answered with the AiVoice status codes (spec supplement A.5), on paths
matched case-insensitively (`/aivoice/dialogFlowList` and the SDK's `/v3/AiVoice/...`)."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from voxcast.api.deps import runtime
from voxcast.api.routing import _authenticate, _require_json, normalize_path, validation_reason
from voxcast.domain import aivoice_codes
from voxcast.domain.codes import ApiError, Code

log = logging.getLogger("voxcast.api")

PREFIX = "/aivoice"
_PATH = re.compile(r"^(/v3)?/aivoice(/.*)$", re.IGNORECASE)


def aivoice_body(code: str, detail: str | None = None, data: Any = None) -> dict[str, Any]:
    """`{"status","reason","data"}` with an AiVoice code; the reason names the field."""
    title = aivoice_codes.REASONS[code]
    reason = f"{title}: {detail}" if detail else title
    return {"status": code, "reason": reason, "data": data}


def aivoice_ok(data: Any = None) -> dict[str, Any]:
    return aivoice_body(aivoice_codes.SUCCESS, None, data)


def is_aivoice_path(path: str) -> bool:
    """Whether `path` is in the AiVoice family (any spelling), known operation or not."""
    return _PATH.match(normalize_path(path)) is not None


def unroutable(path: str, method: str, status_code: int) -> JSONResponse:
    """The answer to an `aivoice/*` request no route takes: an unknown operation or a wrong
    method. A.5 has no "no such endpoint" (the -24 of the other families is not in it), so
    it is -27, the table's code for a request that cannot be served as sent, with HTTP 200."""
    if status_code == 405:
        detail = f"method {method[:16]} not allowed for this endpoint"
    else:
        detail = f"no such endpoint {path[:200]}"
    return JSONResponse(aivoice_body(aivoice_codes.PARAMETER, detail), status_code=200)


def _error(err: ApiError) -> JSONResponse:
    code = aivoice_codes.from_code(err.code)
    return JSONResponse(aivoice_body(code, err.detail or err.title), status_code=200)


class AiVoiceRoute(APIRoute):
    """Every `aivoice/*` endpoint: empty auth headers are -57/-58/-59, then the Sign check,
    then a JSON body, then the model (-27 naming the field); any error ends in the envelope
    with HTTP 200, which is all the vendor's SDK reads."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        wants_body = self.body_field is not None

        async def handler(request: Request) -> Response:
            try:
                headers = {k: request.headers.get(k) for k in ("sign", "timestamp", "api-key")}
                missing = aivoice_codes.missing_header(headers)
                if missing is not None:
                    return JSONResponse(aivoice_body(missing), status_code=200)
                rt = runtime(request)
                request.state.account = await _authenticate(request, rt)
                if wants_body:
                    await _require_json(request, rt)
                return await original(request)
            except ApiError as err:
                return _error(err)
            except RequestValidationError as exc:
                code, reason = validation_reason(exc)
                return _error(ApiError(code, reason))
            except Exception:
                incident = uuid.uuid4().hex[:12]
                log.exception("unexpected error, incident %s", incident)
                return _error(ApiError(Code.SYSTEM, f"incident {incident}"))

        return handler


class AiVoicePaths:
    """ASGI middleware: `/V3/AiVoice/DIALOGFLOWLIST` and any other spelling of an AiVoice
    path is served as the route's own spelling (`/v3/aivoice/dialogFlowList`)."""

    def __init__(self, app: ASGIApp, operations: Iterable[str]) -> None:
        self.app = app
        self.canonical = {op.lower(): op for op in operations}

    def rewrite(self, path: str) -> str | None:
        """The route path for `path`, or None when it is not an AiVoice path to rewrite."""
        match = _PATH.match(normalize_path(path))
        if match is None:
            return None
        v3, rest = match.groups()
        op = self.canonical.get(rest.lower(), rest)
        return f"{'/v3' if v3 else ''}{PREFIX}{op}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fixed = self.rewrite(scope["path"])
            if fixed is not None and fixed != scope["path"]:
                scope = dict(scope)
                scope["path"] = fixed
                scope["raw_path"] = quote(fixed).encode("ascii")
        await self.app(scope, receive, send)
