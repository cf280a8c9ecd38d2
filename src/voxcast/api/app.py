"""The FastAPI application factory: every router mounted under `/v3/<path>` and `/<path>`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxcast import __version__
from voxcast.api import ops, recordings, reference
from voxcast.api.aivoice_routing import AiVoicePaths, is_aivoice_path, unroutable
from voxcast.api.envelope import Family, body
from voxcast.api.routers import (
    account,
    aivoice,
    aivoice_tasks,
    callcenter,
    cc_preview,
    cc_records,
    dnc,
    files,
    group_call,
    phones,
    recall,
    records,
    sip_calls,
    sms,
    voice,
)
from voxcast.api.routing import NormalizePath, validation_reason
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services.authcache import INFO_KEY
from voxcast.services.health import CarrierCheck, NodeReadiness
from voxcast.services.signguard import SignGuard
from voxcast.storage.db import make_readonly_sessionmaker, make_sessionmaker, unavailable

log = logging.getLogger("voxcast.api")

#: the reason of the system error (-18) a request gets while the database is unreachable
DATABASE_DOWN = "database unavailable, try again later"


class ApiSession(AsyncSession):
    """A session that turns "the database cannot be reached" into the vendor's system error
    (-18) with one log line, instead of an incident with a traceback per request."""

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await super().__aexit__(type_, value, traceback)
        if isinstance(value, Exception) and unavailable(value):
            log.warning("database unavailable (%s); request answered -18", type(value).__name__)
            raise ApiError(Code.SYSTEM, DATABASE_DOWN) from value


ROUTERS: list[APIRouter] = [
    account.router,
    callcenter.router,
    cc_preview.router,
    cc_records.router,
    dnc.router,
    files.router,
    group_call.router,
    recall.router,
    voice.router,
    phones.router,
    records.router,
    sip_calls.router,
    sms.router,
    aivoice.router,
    aivoice_tasks.router,
]


def create_app(
    runtime: Runtime,
    *,
    owns_runtime: bool = False,
    carriers: CarrierCheck | None = None,
    node: NodeReadiness | None = None,
) -> FastAPI:
    """The API bound to one runtime. With `owns_runtime` the app closes it on shutdown;
    `carriers` (the process's trunks, when it dials) are part of /readyz, and so is `node`
    (a serve that drains is not ready)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_runtime:
            await runtime.close()

    app = FastAPI(
        title="voxcast",
        version=__version__,
        description=(
            "Self-hosted outbound voice API, wire-compatible with the LAAFFIC / ITNIO TECH / "
            "ONBUKA voice API. Every path is served under /v3/<path> and /<path>; requests are "
            "signed with the Api-Key, Timestamp and Sign headers (Sign = MD5 of the key, the "
            "secret and the timestamp) and every answer is HTTP 200 with a status code in its "
            "JSON envelope. Field descriptions paraphrase the vendor's pages; docs/api-compat.md "
            "lists where voxcast differs."
        ),
        lifespan=lifespan,
        # /docs and /redoc are served by voxcast.api.reference from vendored assets, not a CDN
        docs_url=None,
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry looks the global providers up on every request
        # (environment reads included) even when none is configured; voxcast exports none
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # the API's own sessions (same engine, pool and auth-cache hooks) answer a database
    # outage with -18
    info = {INFO_KEY: runtime.auth_cache}
    app.state.runtime = dataclasses.replace(
        runtime,
        sessions=make_sessionmaker(runtime.engine, info, ApiSession),
        readonly=make_readonly_sessionmaker(runtime.engine, info, ApiSession),
    )
    settings = runtime.settings
    app.state.sign_guard = SignGuard(
        settings.sign_failures, settings.sign_failure_window_seconds, settings.sign_lockout_seconds
    )
    # the path is normalised in front of the router, so it never answers a redirect
    app.router.redirect_slashes = False
    app.add_middleware(NormalizePath)
    app.add_middleware(AiVoicePaths, operations=aivoice.OPERATIONS + aivoice_tasks.OPERATIONS)
    for router in ROUTERS:
        app.include_router(router, prefix="/v3")
        app.include_router(router, include_in_schema=False)

    app.include_router(ops.router(runtime, carriers, node))
    app.include_router(recordings.router(runtime))
    reference.mount(app)

    # Requests that never reach a vendor route (unknown path, wrong method) still get an
    # envelope with HTTP 200, as every vendor answer: the vendor's Java SDK and Spring's
    # RestTemplate discard the body of any other status. The catalog shows no HTTP error code.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405) and is_aivoice_path(request.url.path):
            # an AiVoice client reads the A.5 table, which has no -24 (docs/api-compat.md)
            return unroutable(request.url.path, request.method, exc.status_code)
        if exc.status_code == 404:
            err = ApiError(Code.NOT_FOUND, f"no such endpoint {request.url.path[:200]}")
        elif exc.status_code == 405:
            err = ApiError(
                Code.PARAMETER, f"method {request.method[:16]} not allowed for this endpoint"
            )
        else:
            err = ApiError(Code.PARAMETER, str(exc.detail))
        return JSONResponse(body(Family.STATUS, err.code, err.reason), 200)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        code, reason = validation_reason(exc)
        return JSONResponse(body(Family.STATUS, code, reason), 200)

    return app
