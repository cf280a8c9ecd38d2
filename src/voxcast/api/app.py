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
from voxcast.api.envelope import Family, body
from voxcast.api.routers import (
    account,
    callcenter,
    cc_preview,
    cc_records,
    files,
    group_call,
    recall,
    records,
    voice,
)
from voxcast.api.routing import NormalizePath, validation_reason
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.services.authcache import INFO_KEY
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
    files.router,
    group_call.router,
    recall.router,
    voice.router,
    records.router,
]


def create_app(runtime: Runtime, *, owns_runtime: bool = False) -> FastAPI:
    """The API bound to one runtime. With `owns_runtime` the app closes it on shutdown."""

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
            "ONBUKA voice API. Every path is served under /v3/<path> and /<path>."
        ),
        lifespan=lifespan,
    )
    # the API's own sessions (same engine, pool and auth-cache hooks) answer a database
    # outage with -18
    info = {INFO_KEY: runtime.auth_cache}
    app.state.runtime = dataclasses.replace(
        runtime,
        sessions=make_sessionmaker(runtime.engine, info, ApiSession),
        readonly=make_readonly_sessionmaker(runtime.engine, info, ApiSession),
    )
    # the path is normalised in front of the router, so it never answers a redirect
    app.router.redirect_slashes = False
    app.add_middleware(NormalizePath)
    for router in ROUTERS:
        app.include_router(router, prefix="/v3")
        app.include_router(router, include_in_schema=False)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Requests that never reach a vendor route (unknown path, wrong method) still get an
    # envelope with HTTP 200, as every vendor answer: the vendor's Java SDK and Spring's
    # RestTemplate discard the body of any other status. The catalog shows no HTTP error code.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
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
