"""`voxcast` entry point: `serve`, `admin ...`; see docs/cli.md for the whole contract.

Every command imports what it runs on inside its own body: a process started for `admin
gen-secret-key` or `--help` does not load the web server, the SIP stack or the audio engines."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from voxcast import logs
from voxcast.cli import common
from voxcast.cli.admin import admin_app
from voxcast.cli.apps import apps_app
from voxcast.cli.call import call
from voxcast.cli.common import (
    DatabaseOpt,
    EpochOpt,
    SpeedOpt,
    clock_for,
    fail,
    open_rt,
    settings_for,
)
from voxcast.cli.ops import ops_server
from voxcast.cli.pushes import pushes_app
from voxcast.cli.records import records
from voxcast.cli.tasks import tasks_app
from voxcast.cli.voices import tts_app, voices_app
from voxcast.clock import SystemClock

if TYPE_CHECKING:
    import uvicorn

    from voxcast.config import Settings

app = typer.Typer(
    name="voxcast",
    help="Self-hosted outbound voice platform (LAAFFIC-compatible API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin_app, name="admin")
app.add_typer(tasks_app, name="tasks")
app.add_typer(voices_app, name="voices")
app.add_typer(tts_app, name="tts")
app.add_typer(pushes_app, name="pushes")
app.add_typer(apps_app, name="apps")
app.command("call")(call)
app.command("records")(records)
console = Console()
log = logging.getLogger("voxcast.serve")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"voxcast {version('voxcast')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from voxcast import __version__

            typer.echo(f"voxcast {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="VOXCAST_DATA_DIR",
            help="the data directory (voxcast.db, secret.key, recordings); default ./var",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Self-hosted outbound voice platform (LAAFFIC-compatible API)."""
    common.data_dir_option = data_dir


def listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound before anything else starts: a port out of range or in use
    stops serve with one line (exit 2) instead of after the dialer and push sender started."""
    if not 1 <= port <= 65535:
        raise fail(f"--port {port}: not a TCP port (1-65535)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, as asyncio's own listeners have: asyncio sets TCP_NODELAY on the
    # connections it accepts only then, and without it every answer waited out Nagle and the
    # client's delayed ACK (about 40 ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # the backlog uvicorn would have used
    except OSError as err:
        sock.close()
        reason = err.strerror or str(err)
        raise fail(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def public_url_for(host: str, port: int, settings: Settings) -> None:
    """Without VOXCAST_PUBLIC_URL, links to this server (recordings) name the address serve
    listens on, in this process and in the worker process it starts (which inherits the
    environment); a wildcard address is reached as loopback. They named port 8000 before,
    whatever --port said."""
    if os.environ.get("VOXCAST_PUBLIC_URL"):
        return
    reach = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    shown = f"[{reach}]" if ":" in reach else reach
    settings.public_url = os.environ["VOXCAST_PUBLIC_URL"] = f"http://{shown}:{port}"


def _server(config: uvicorn.Config) -> tuple[uvicorn.Server, list[int]]:
    """A uvicorn server that keeps the stop signal, and the list it keeps it in.

    uvicorn re-raises the stop signal (SIGTERM, SIGINT) the moment it stops serving, which
    kills the process before the background is closed: the render pool's processes, fork
    server and resource tracker were left running as orphans. The signal is kept here, and
    `serve` re-raises it once everything is closed."""
    import uvicorn

    stopped_by: list[int] = []

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopped_by.append(sig)
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            stops = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return _Server(config), stopped_by


class DialerMode(StrEnum):
    """Where `serve` runs the dialer, the push sender and the SMS sender."""

    INLINE = "inline"
    PROCESS = "process"
    NONE = "none"


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
    dialer: Annotated[
        DialerMode,
        typer.Option(
            help="where the dialer, push sender and SMS sender run: inline (in this process), "
            "process (a worker process of serve's own, beside the API), none (the API alone, "
            "for workers started elsewhere)",
        ),
    ] = DialerMode.INLINE,
) -> None:
    """Run the API with the dialer and push sender, inline or in a worker process.

    SIGUSR1 drains it (a rolling upgrade): the dialer takes no new calls, and serve exits 0
    once the calls in progress have ended, the API answering until then."""
    import uvicorn
    from rich.panel import Panel

    from voxcast.api.app import create_app
    from voxcast.cli.serve_worker import WorkerProcess, worker_args
    from voxcast.console import mount as mount_console
    from voxcast.console.settings import ConsoleSettings
    from voxcast.services import demo
    from voxcast.services.health import NodeReadiness
    from voxcast.telephony import onecall
    from voxcast.telephony.callcenter.webrtc import BrowserPhones
    from voxcast.worker import Background

    _logging(log_level)
    try:
        console_settings = ConsoleSettings.from_env()
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    settings = settings_for(database_url)
    listener = listening_socket(host, port)
    public_url_for(host, port, settings)
    if sandbox_speed != 1.0 and sandbox_epoch is None and not settings.sandbox_epoch:
        # the worker process must count sandbox time from the same instant as the API
        sandbox_epoch = SystemClock().now().timestamp()
    clock = clock_for(settings, sandbox_speed, sandbox_epoch)
    stopped_by: list[int] = []
    lost_worker: list[bool] = []

    async def main() -> None:
        drain_asked = asyncio.Event()
        # first of all: SIGUSR1's default action would end serve at once, calls and all
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, drain_asked.set)
        rt = await open_rt(settings, clock, setup=True, wait_for_database=True)
        if demo_account:
            creds = await demo.ensure_demo_account(rt)
            login, password = await demo.ensure_demo_console_user(rt, creds.account_id)
            console.print(
                Panel.fit(
                    f"API base URL  http://{host}:{port}   (also /v3/...)\n"
                    f"Api-Key       {creds.api_key}\n"
                    f"Api-Secret    {creds.api_secret}\n"
                    f"appId         {creds.app_id}\n"
                    f"Sign          MD5(Api-Key + Api-Secret + Timestamp)\n"
                    f"Console       http://{host}:{port}/console\n"
                    f"Login         {login} / {password}",
                    title="voxcast demo account",
                )
            )
        background = Background(rt) if dialer == DialerMode.INLINE else None
        if background is not None:
            await background.start()
        # the dialer's readiness where it runs here; otherwise a flag of serve's own, so that
        # /readyz says "draining" to the HTTP load balancer while the worker process drains
        node = background.readiness if background is not None else NodeReadiness(rt.engine)
        api = create_app(rt, carriers=background.carriers.down if background else None, node=node)
        mount_console(api, console_settings)
        # the admin's trunk page: registration states of this process's trunks, test calls
        api.state.trunk_states = background.carriers.registrations if background else None
        api.state.trunk_tester = onecall.trunk_tester(rt)
        # the agent workspace's browser phones: their media lives with the pages, here
        ice_hosts = [h.strip() for h in settings.webrtc_hosts.split(",") if h.strip()]
        phones = BrowserPhones("127.0.0.1", ice_hosts=ice_hosts or None)
        api.state.browser_phones = phones
        # uvicorn's proxy_headers would believe X-Forwarded-For from any local process and
        # rewrite the client address before voxcast sees it: the app decides instead, from
        # VOXCAST_TRUST_X_FORWARDED_FOR (api.routing.client_ip)
        config = uvicorn.Config(
            api,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            log_config=logs.uvicorn_log_config(),
            proxy_headers=False,
            forwarded_allow_ips="",
        )
        server, stopped = _server(config)

        def lost() -> None:
            lost_worker.append(True)
            server.should_exit = True

        worker = WorkerProcess(
            worker_args(database_url, sandbox_speed, sandbox_epoch, log_level),
            rt.auth_cache,
            lost,
            data_dir=settings.data_dir,
        )

        async def drain() -> None:
            """On SIGUSR1: the dialer drained (its stop set once its calls ended, or its
            worker process exited), then the API stopped gracefully; exit 0. A second SIGUSR1
            finds the event set already; SIGTERM meanwhile stops serve as it always does."""
            await drain_asked.wait()
            node.draining = True
            if background is not None:
                log.info("SIGUSR1: draining the dialer; the API answers until it is idle")
                background.drain()
                await background.stop.wait()
            elif dialer == DialerMode.PROCESS:
                log.info("SIGUSR1: draining the worker process; the API answers until it ends")
                await worker.drain()
            else:
                log.info("SIGUSR1: no dialer here to drain")
            log.info("drained: stopping the API")
            server.should_exit = True

        drainer: asyncio.Task[None] | None = None
        try:
            if dialer == DialerMode.PROCESS:
                await worker.start()
            # once the dialer runs: a SIGUSR1 received while starting is acted on here
            drainer = asyncio.create_task(drain(), name="serve-drain")
            settle_heap()
            await server.serve(sockets=[listener])
        finally:
            if drainer is not None:
                drainer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drainer
            stopped_by.extend(stopped)
            await worker.stop()
            if background is not None:
                await background.close()
            await phones.close()
            await rt.close()

    try:
        asyncio.run(main())
    finally:
        listener.close()
    if lost_worker:
        raise typer.Exit(1)
    for sig in reversed(stopped_by):
        # end as the signal would have (exit status 128 + its number), cleanly closed first
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)


@app.command()
def worker(
    database_url: DatabaseOpt = None,
    sandbox_speed: SpeedOpt = 1.0,
    sandbox_epoch: EpochOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
    metrics_port: Annotated[
        int | None, typer.Option(help="serve /metrics, /healthz and /readyz on this TCP port")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="address of --metrics-port")] = "127.0.0.1",
    serve_link: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run a dialer and push sender without the API; start several on one PostgreSQL."""
    from voxcast.worker import Background

    _logging(log_level)
    settings = settings_for(database_url)
    clock = clock_for(settings, sandbox_speed, sandbox_epoch)

    async def main() -> None:
        rt = await open_rt(settings, clock, setup=True, wait_for_database=True)
        background = Background(rt)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, background.stop.set)
        # drain for a rolling upgrade: no new calls, exit 0 once those in progress ended
        loop.add_signal_handler(signal.SIGUSR1, background.drain)
        if serve_link is not None:  # started by `serve` (cli.serve_worker)
            from voxcast.cli.serve_worker import link_worker

            link_worker(socket.socket(fileno=serve_link), rt.auth_cache, background.stop)
        await background.start()
        settle_heap()
        try:
            async with ops_server(rt, background, metrics_host, metrics_port):
                await background.stop.wait()
        finally:
            await background.close()
            await rt.close()

    asyncio.run(main())


#: young collections every 10,000 allocations (Python's default 700), older ones half as
#: often: calls and requests leave few reference cycles, and at the default the collector
#: was a fifth of a SIP call's set-up CPU (bench/sip_cpu.py: 881 -> 750 us per call)
GC_THRESHOLDS = (10_000, 20, 20)


def settle_heap() -> None:
    """Takes what start-up allocated (modules, routes, models: hundreds of thousands of
    objects) out of the cyclic collector's reach, and makes the collector run less often.
    Left in, every full collection walked them all: pauses of 80-400 ms, the API's p99
    latency (bench/api.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _logging(level: str) -> None:
    logs.configure(level)


def main() -> None:
    app()
