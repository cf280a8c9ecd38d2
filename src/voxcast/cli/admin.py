"""`voxcast admin ...`: accounts, apps (push URL), IP whitelist, balance, secret key."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from voxcast.cli.common import DatabaseOpt, parse_money, with_runtime
from voxcast.domain.codes import ApiError
from voxcast.runtime import Runtime
from voxcast.security import generate_key
from voxcast.services import accounts

admin_app = typer.Typer(help="Administer accounts, apps, keys and balances.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(err: ApiError) -> None:
    err_console.print(f"[red]error[/red] {err.reason}")
    raise typer.Exit(2)


@admin_app.command("create-account")
def create_account(
    name: Annotated[str, typer.Option(help="account name")],
    balance: Annotated[str, typer.Option(help="opening balance in USD")] = "0",
    api_key: Annotated[str | None, typer.Option(help="use this API key (default: random)")] = None,
    api_secret: Annotated[
        str | None, typer.Option(help="use this secret (default: random)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an account with an API key and secret and one voice app."""
    amount = parse_money(balance)
    if (api_key is None) != (api_secret is None):
        raise typer.BadParameter("give both --api-key and --api-secret, or neither")

    async def go(rt: Runtime) -> accounts.Credentials:
        async with rt.sessions.begin() as session:
            return await accounts.create_account(
                session,
                rt.secrets,
                rt.clock.now(),
                name=name,
                balance=amount,
                api_key=api_key,
                api_secret=api_secret,
            )

    try:
        creds = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    if as_json:
        typer.echo(json.dumps(creds.as_json()))
    else:
        console.print(
            f"account  {creds.account_id}\napiKey   {creds.api_key}\n"
            f"apiSecret {creds.api_secret}\nappId    {creds.app_id}"
        )


@admin_app.command("set-push-url")
def set_push_url(
    app_id: Annotated[str, typer.Option(help="voice app id")],
    url: Annotated[str, typer.Option(help="http(s) URL, or '' to stop pushes")],
    batch: Annotated[bool, typer.Option(help="push JSON arrays (batch mode)")] = False,
    secret: Annotated[
        str | None, typer.Option(help="HMAC-SHA256 push signing secret ('' to remove)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Set where a voice app's status reports are pushed."""

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await accounts.set_push(
                session, rt.secrets, app_id, url=url, batch=batch, secret=secret
            )

    try:
        with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
    console.print(f"app {app_id}: push URL set")


@admin_app.command("set-ip-whitelist")
def set_ip_whitelist(
    account_id: Annotated[int, typer.Option(help="account id")],
    ips: Annotated[str, typer.Option(help="comma-separated IPs or CIDRs; '' allows any")],
    database_url: DatabaseOpt = None,
) -> None:
    """Only accept this account's requests from these addresses."""

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await accounts.set_ip_whitelist(session, account_id, ips)

    try:
        with_runtime(database_url, go)
    except (ApiError, ValueError) as err:
        if isinstance(err, ApiError):
            _fail(err)
        raise typer.BadParameter(str(err)) from None
    console.print(f"account {account_id}: IP whitelist set")


@admin_app.command("set-balance")
def set_balance(
    account_id: Annotated[int, typer.Option(help="account id")],
    amount: Annotated[str, typer.Option(help="new balance in USD (or +N / -N to adjust)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Set or adjust an account's balance."""
    relative = amount.startswith(("+", "-"))
    value = parse_money(amount)

    async def go(rt: Runtime) -> str:
        async with rt.sessions.begin() as session:
            new = await accounts.set_balance(session, account_id, value, relative=relative)
            return f"{new:.6f}"

    try:
        new_balance = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    console.print(f"account {account_id}: balance {new_balance}")


@admin_app.command("gen-secret-key")
def gen_secret_key() -> None:
    """Print a new server key for VOXCAST_SECRET_KEY."""
    typer.echo(generate_key())
