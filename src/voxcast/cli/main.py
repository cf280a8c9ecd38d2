"""`voxcast` entry point: `serve`, `admin ...`; see docs/cli.md for the whole contract."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from voxcast.cli.admin import admin_app
from voxcast.cli.call import call
from voxcast.cli.common import (
    DatabaseOpt,
    EpochOpt,
    SpeedOpt,
    clock_for,
    open_rt,
    settings_for,
)
from voxcast.cli.tasks import tasks_app
from voxcast.services import demo

app = typer.Typer(
    name="voxcast",
    help="Self-hosted outbound voice platform (LAAFFIC-compatible API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin_app, name="admin")
app.add_typer(tasks_app, name="tasks")
app.command("call")(call)
console = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    database_url: DatabaseOpt = None,
    sandbox_speed: SpeedOpt = 1.0,
    sandbox_epoch: EpochOpt = None,
    demo_account: Annotated[
        bool, typer.Option("--demo", help="create (once) and print a demo account")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run the API (and the dialer and push sender) in one process."""
    from voxcast.api.app import create_app
    from voxcast.worker import Background

    _logging(log_level)
    settings = settings_for(database_url)
    clock = clock_for(settings, sandbox_speed, sandbox_epoch)

    async def main() -> None:
        rt = await open_rt(settings, clock)
        if demo_account:
            creds = await demo.ensure_demo_account(rt)
            console.print(
                Panel.fit(
                    f"API base URL  http://{host}:{port}   (also /v3/...)\n"
                    f"Api-Key       {creds.api_key}\n"
                    f"Api-Secret    {creds.api_secret}\n"
                    f"appId         {creds.app_id}\n"
                    f"Sign          MD5(Api-Key + Api-Secret + Timestamp)",
                    title="voxcast demo account",
                )
            )
        background = Background(rt)
        await background.start()
        api = create_app(rt)
        # uvicorn's proxy_headers would believe X-Forwarded-For from any local process and
        # rewrite the client address before voxcast sees it: the app decides instead, from
        # VOXCAST_TRUST_X_FORWARDED_FOR (api.routing.client_ip)
        config = uvicorn.Config(
            api,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            proxy_headers=False,
            forwarded_allow_ips="",
        )
        try:
            await uvicorn.Server(config).serve()
        finally:
            await background.close()
            await rt.close()

    asyncio.run(main())


@app.command()
def worker(
    database_url: DatabaseOpt = None,
    sandbox_speed: SpeedOpt = 1.0,
    sandbox_epoch: EpochOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run a dialer and push sender without the API; start several on one PostgreSQL."""
    from voxcast.worker import Background

    _logging(log_level)
    settings = settings_for(database_url)
    clock = clock_for(settings, sandbox_speed, sandbox_epoch)

    async def main() -> None:
        rt = await open_rt(settings, clock)
        background = Background(rt)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, background.stop.set)
        await background.start()
        try:
            await background.stop.wait()
        finally:
            await background.close()
            await rt.close()

    asyncio.run(main())


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


def main() -> None:
    app()
