"""Operations endpoints for load balancers and Prometheus: /healthz (the process answers),
/readyz (database reachable, carriers up) and /metrics; mounted by `serve` and by
`worker --metrics-port`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse

from voxcast import __version__, metrics
from voxcast.runtime import Runtime
from voxcast.services import health

log = logging.getLogger("voxcast.ops")


def router(
    runtime: Runtime,
    carriers: health.CarrierCheck | None = None,
    node: health.NodeReadiness | None = None,
) -> APIRouter:
    """The three endpoints, bound to one runtime and, where the process dials, its carriers
    and its node's readiness (a draining worker is not ready)."""
    ops = APIRouter(include_in_schema=False)

    @ops.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @ops.get("/readyz")
    async def readyz() -> JSONResponse:
        found = await health.readiness(runtime.engine, carriers)
        if node is not None and node.draining:
            found.failed["node"] = "draining"
        return JSONResponse(found.body(), 200 if found.ready else 503)

    @ops.get("/metrics")
    async def prometheus() -> Response:
        try:
            metrics.push_backlog(await health.push_backlog(runtime.readonly))
        except Exception as exc:
            # the last figure stays; /readyz says why the database is not answering
            log.debug("push backlog not refreshed: %s", exc)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    return ops


def create_ops_app(
    runtime: Runtime,
    carriers: health.CarrierCheck | None = None,
    node: health.NodeReadiness | None = None,
) -> FastAPI:
    """An app with the operations endpoints only, for a `voxcast worker`."""
    app = FastAPI(title="voxcast worker", version=__version__, openapi_url=None)
    app.include_router(router(runtime, carriers, node))
    return app
