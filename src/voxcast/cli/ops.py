"""`voxcast worker --metrics-port`: the operations endpoints (/metrics, /healthz, /readyz)
served by uvicorn on the worker's own event loop while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import uvicorn

from voxcast import logs

if TYPE_CHECKING:  # the worker's engines load only when a worker starts (`admin` stays quick)
    from voxcast.runtime import Runtime
    from voxcast.worker import Background


class _QuietServer(uvicorn.Server):
    """The worker handles SIGINT/SIGTERM itself (a graceful drain); uvicorn must neither take
    those signals over nor re-raise them when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def ops_server(
    rt: Runtime, background: Background, host: str, port: int | None
) -> AsyncIterator[None]:
    """Serve the operations endpoints on `host:port` for the duration; no port: nothing."""
    if port is None:
        yield
        return
    from voxcast.api.ops import create_ops_app

    app = create_ops_app(rt, background.carriers.down, background.readiness)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=logs.uvicorn_log_config(),
        lifespan="off",
        proxy_headers=False,
    )
    # bound here, so a port in use stops the worker with one line (uvicorn would exit the
    # process from inside its task, skipping the worker's clean stop)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as err:
        raise SystemExit(f"voxcast worker: --metrics-port {port} on {host}: {err}") from err
    server = _QuietServer(config)
    # the socket listens already: requests wait in its backlog until uvicorn accepts them
    task = asyncio.create_task(server.serve(sockets=[sock]), name="ops-http")
    try:
        yield
    finally:
        server.should_exit = True
        await task
