"""`voxcast admin trunk ...`: SIP trunks, and which account's calls go through which."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from voxcast.cli.common import DatabaseOpt, kept_out_of_ps, read_secret, with_runtime
from voxcast.telephony.sip.core.routing import is_ip

if TYPE_CHECKING:
    from voxcast.runtime import Runtime

trunk_app = typer.Typer(help="SIP trunks: add, list, remove, and route an account's calls.")
console = Console()
err_console = Console(stderr=True)


def _run(database_url: str | None, fn: object, *, setup: bool = False) -> object:
    # the trunk service brings the SIP stack with it: loaded only by the trunk commands
    from voxcast.services import trunks

    try:
        return with_runtime(database_url, fn, setup=setup)  # type: ignore[arg-type]
    except trunks.TrunkError as err:
        err_console.print(f"[red]error[/red] {err}")
        raise typer.Exit(2) from err


@trunk_app.command("add")
def trunk_add(
    name: Annotated[str, typer.Option(help="a short name, used by `trunk use`")],
    host: Annotated[str, typer.Option(help="the carrier's, PBX's or proxy's host or IP")],
    port: Annotated[
        int | None,
        typer.Option(
            help="its SIP port; omitted: found by DNS (NAPTR/SRV, RFC 3263), else 5060 (TLS 5061)"
        ),
    ] = None,
    transport: Annotated[str, typer.Option(help="udp, tcp or tls")] = "udp",
    username: Annotated[str | None, typer.Option(help="digest user name, if it asks")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="digest password (stored encrypted)" + kept_out_of_ps("--password")),
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="read the digest password from this file (one line)")
    ] = None,
    realm: Annotated[str | None, typer.Option(help="answer challenges of this realm only")] = None,
    caller_id: Annotated[
        str | None, typer.Option(help="From user when a task gives no displayNum")
    ] = None,
    max_channels: Annotated[int, typer.Option(help="concurrent calls; 0 = no limit")] = 0,
    max_cps: Annotated[int, typer.Option(help="new calls per second; 0 = no limit")] = 0,
    codecs: Annotated[str, typer.Option(help="offered in this order: pcmu,pcma")] = "pcmu,pcma",
    register: Annotated[
        bool, typer.Option(help="REGISTER username@host with the trunk and keep it fresh")
    ] = False,
    tls_ca: Annotated[
        str | None,
        typer.Option(help="TLS: trust only this CA file (PEM) instead of the system's CAs"),
    ] = None,
    tls_insecure: Annotated[
        bool,
        typer.Option(
            help="TLS, FOR TESTING ONLY: accept any certificate; anyone on the path can "
            "read and change the calls"
        ),
    ] = False,
    tls_cert: Annotated[
        str | None, typer.Option(help="TLS: our client certificate (PEM), if the carrier asks")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(help="TLS: the client certificate's key, if not in its file")
    ] = None,
    srtp: Annotated[
        str,
        typer.Option(
            help="encrypt media with SRTP, keys in SDP (SDES, RFC 4568): off; optional (RTP/AVP "
            "with keys, plain RTP if the answer has none); mandatory (RTP/SAVP, else the call "
            "fails). Use with --transport tls: the keys travel in the SIP messages"
        ),
    ] = "off",
    replace: Annotated[bool, typer.Option(help="overwrite a trunk of the same name")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Add a SIP trunk. Running workers pick it up within seconds."""
    from voxcast.services import trunks

    password = read_secret(password, password_file, "--password")
    spec = trunks.TrunkSpec(
        name=name,
        host=host,
        port=port,
        transport=transport.lower(),
        username=username,
        password=password,
        realm=realm,
        caller_id=caller_id,
        max_channels=max_channels,
        max_cps=max_cps,
        codecs=codecs,
        register=register,
        tls_ca=tls_ca,
        tls_insecure=tls_insecure,
        tls_cert=tls_cert,
        tls_key=tls_key,
        srtp=srtp.lower(),
    )

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await trunks.add_trunk(session, rt.secrets, spec, rt.clock.now(), replace=replace)

    # a trunk may be the first thing a new data directory gets (before any account)
    _run(database_url, go, setup=True)
    if spec.port:
        where = f"sip:{host}:{spec.port}"
    elif is_ip(host):  # no DNS for an address: the transport's port
        where = f"sip:{host}:{trunks.DEFAULT_PORTS.get(transport, 5060)}"
    else:
        where = f"sip:{host} (port found by DNS)"
    media = "" if spec.srtp == "off" else f", SRTP {spec.srtp}"
    console.print(f"trunk {name}: {where} over {spec.transport}{media}")
    if spec.keys_in_clear:
        err_console.print(
            f"[yellow]warning[/yellow] --srtp over {spec.transport}: the SRTP keys travel in "
            "the clear in SIP; anyone who sees the signalling can decrypt the calls (use "
            "--transport tls)"
        )
    if tls_insecure:
        err_console.print(
            "[yellow]warning[/yellow] --tls-insecure: the trunk's certificate is NOT checked; "
            "use it for testing only"
        )


@trunk_app.command("use")
def trunk_use(
    account_id: Annotated[int, typer.Option(help="the account")],
    trunk: Annotated[
        str | None, typer.Option(help="trunk name; omit (or --sandbox) for the sandbox")
    ] = None,
    sandbox: Annotated[bool, typer.Option(help="send the account's calls to the sandbox")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Send an account's calls through a trunk (or back to the sandbox)."""
    from voxcast.services import trunks

    if (trunk is None) != sandbox:
        err_console.print("[red]error[/red] give --trunk NAME or --sandbox")
        raise typer.Exit(2)

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await trunks.use_trunk(session, account_id, trunk)

    _run(database_url, go)
    console.print(f"account {account_id} calls through {trunk or 'the sandbox'}")


@trunk_app.command("list")
def trunk_list(database_url: DatabaseOpt = None) -> None:
    """List trunks (passwords are never shown)."""
    from voxcast.services import trunks

    async def go(rt: Runtime) -> list[list[str]]:
        async with rt.sessions() as session:
            return [
                [
                    t.name,
                    f"{t.host}:{t.port}" if t.port else t.host,
                    t.transport + (" INSECURE" if t.tls_insecure else ""),
                    t.username or "",
                    "yes" if t.register else "no",
                    t.caller_id or "",
                    str(t.max_channels or "-"),
                    str(t.max_cps or "-"),
                    t.codecs,
                    t.srtp,
                ]
                for t in await trunks.list_trunks(session)
            ]

    rows = _run(database_url, go)
    table = Table(
        "name",
        "address",
        "transport",
        "user",
        "register",
        "caller id",
        "channels",
        "cps",
        "codecs",
        "srtp",
    )
    for row in rows:  # type: ignore[attr-defined]
        table.add_row(*row)
    console.print(table)


@trunk_app.command("remove")
def trunk_remove(
    name: Annotated[str, typer.Option(help="the trunk")], database_url: DatabaseOpt = None
) -> None:
    """Remove a trunk that no account uses."""
    from voxcast.services import trunks

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await trunks.remove_trunk(session, name)

    _run(database_url, go)
    console.print(f"trunk {name} removed")
