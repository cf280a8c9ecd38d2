"""`voxcast` entry point: `serve`, `admin ...`; see docs/cli.md for the whole contract."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from voxcast.cli.admin import admin_app
from voxcast.cli.common import DatabaseOpt, open_rt, settings_for
from voxcast.clock import ScaledClock, SystemClock
from voxcast.ports import Clock
from voxcast.services import demo

app = typer.Typer(
    name="voxcast",
    help="Self-hosted outbound voice platform (LAAFFIC-compatible API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin_app, name="admin")
console = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    database_url: DatabaseOpt = None,
    sandbox_speed: Annotated[
        float, typer.Option(help="run sandbox time N times faster than the wall clock")
    ] = 1.0,
    demo_account: Annotated[
        bool, typer.Option("--demo", help="create (once) and print a demo account")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run the API (and the dialer and push sender) in one process."""
    from voxcast.api.app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings = settings_for(database_url)
    settings.sandbox_speed = sandbox_speed
    clock: Clock = ScaledClock(sandbox_speed) if sandbox_speed != 1.0 else SystemClock()

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
        api = create_app(rt, owns_runtime=True)
        config = uvicorn.Config(api, host=host, port=port, log_level=log_level, lifespan="on")
        await uvicorn.Server(config).serve()

    asyncio.run(main())


def main() -> None:
    app()
