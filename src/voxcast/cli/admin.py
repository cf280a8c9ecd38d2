"""`voxcast admin ...`: accounts, apps (push URL), IP whitelist, balance, secret key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from voxcast.cli.common import DatabaseOpt, kept_out_of_ps, parse_money, read_secret, with_runtime
from voxcast.cli.numbers import number_app
from voxcast.cli.trunks import trunk_app
from voxcast.domain.codes import ApiError, Code
from voxcast.runtime import Runtime
from voxcast.security import generate_key
from voxcast.services import accounts, files, rates, sms

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
        str | None,
        typer.Option(help="use this secret (default: random)" + kept_out_of_ps("--api-secret")),
    ] = None,
    api_secret_file: Annotated[
        Path | None, typer.Option(help="read the API secret from this file (one line)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an account with an API key and secret and one voice app."""
    amount = parse_money(balance)
    api_secret = read_secret(api_secret, api_secret_file, "--api-secret")
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
        str | None,
        typer.Option(
            help="HMAC-SHA256 push signing secret ('' to remove)" + kept_out_of_ps("--secret")
        ),
    ] = None,
    secret_file: Annotated[
        Path | None, typer.Option(help="read the push signing secret from this file (one line)")
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="voice: status reports; cc: call-center records; ring: agent ringing events"
        ),
    ] = "voice",
    database_url: DatabaseOpt = None,
) -> None:
    """Set where a voice app's status reports (or call-center pushes) are sent."""
    secret = read_secret(secret, secret_file, "--secret")
    if kind not in ("voice", "cc", "ring"):
        _fail(ApiError(Code.PARAMETER, "--kind: voice, cc or ring"))

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            if kind == "voice":
                await accounts.set_push(
                    session, rt.secrets, app_id, url=url, batch=batch, secret=secret
                )
            else:
                await accounts.set_cc_push(session, app_id, url=url, ringing=kind == "ring")

    try:
        with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
    console.print(f"app {app_id}: {kind} push URL set")


@admin_app.command("set-app")
def set_app(
    app_id: Annotated[str, typer.Option(help="voice app id")],
    termination_code: Annotated[
        str,
        typer.Option(
            help='terminationCode in records and status pushes: "sip" (the SIP code, "200" '
            'answered; the default) or "zero" ("0" answered, the SIP code otherwise)'
        ),
    ],
    database_url: DatabaseOpt = None,
) -> None:
    """Change how a voice app's records and status pushes show terminationCode."""

    async def go(rt: Runtime) -> str:
        async with rt.sessions.begin() as session:
            app = await accounts.set_termination_style(session, app_id, termination_code)
            return app.termination_style

    try:
        style = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    console.print(f"app {app_id}: terminationCode style {style}")


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


@admin_app.command("set-account")
def set_account(
    account_id: Annotated[int, typer.Option(help="account id")],
    bill_period: Annotated[
        str | None, typer.Option(help='billing rounding, e.g. "60+60", "20+20", "1+1"')
    ] = None,
    max_cps: Annotated[int | None, typer.Option(help="calls started per second")] = None,
    max_channels: Annotated[int | None, typer.Option(help="calls at the same time")] = None,
    max_concurrent_tasks: Annotated[int | None, typer.Option(help="active tasks (-37)")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone for sendTime and allowSendTime")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Change an account's billing period, dialing limits and time zone."""

    async def go(rt: Runtime) -> str:
        async with rt.sessions.begin() as session:
            a = await accounts.update_settings(
                session,
                account_id,
                bill_period=bill_period,
                max_cps=max_cps,
                max_channels=max_channels,
                max_concurrent_tasks=max_concurrent_tasks,
                timezone=timezone,
            )
            return (
                f"billPeriod {a.bill_period}, maxCps {a.max_cps}, maxChannels "
                f"{a.max_channels}, maxConcurrentTasks {a.max_concurrent_tasks}, "
                f"timezone {a.timezone}"
            )

    try:
        summary = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    console.print(f"account {account_id}: {summary}")


@admin_app.command("gen-secret-key")
def gen_secret_key() -> None:
    """Print a new server key for VOXCAST_SECRET_KEY."""
    typer.echo(generate_key())


rates_app = typer.Typer(
    help="Destination rates (USD per minute, by number prefix).", no_args_is_help=True
)
admin_app.add_typer(rates_app, name="rates")
sms_app = typer.Typer(help="Post-call SMS kept by the sandbox SMS sink.", no_args_is_help=True)
admin_app.add_typer(sms_app, name="sms")
files_app = typer.Typer(help="Uploaded voice files.", no_args_is_help=True)
admin_app.add_typer(files_app, name="files")
admin_app.add_typer(trunk_app, name="trunk")
admin_app.add_typer(number_app, name="number")


@rates_app.command("import")
def rates_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: prefix,rate[,description]", exists=True, dir_okay=False, readable=True
        ),
    ],
    account_id: Annotated[
        int | None, typer.Option(help="the account's own rates (default: platform list)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Load or update rates; bad lines are reported with their line number and skipped."""
    with file.open(newline="", encoding="utf-8-sig") as fh:
        rows, errors = rates.parse_rate_csv(fh)
    for message in errors:
        err_console.print(f"[yellow]skipped[/yellow] {message}")

    async def go(rt: Runtime) -> None:
        with Progress(console=console, transient=True) as bar:
            handle = bar.add_task("importing rates", total=len(rows))
            async with rt.sessions.begin() as session:
                if account_id is not None:
                    await accounts.get_account(session, account_id)
                for row in rows:
                    await rates.set_rate(session, account_id, row.prefix, row.rate, row.description)
                    bar.advance(handle)

    try:
        with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
    owner = f"account {account_id}" if account_id is not None else "the platform list"
    console.print(f"imported {len(rows)} rates into {owner}; {len(errors)} lines skipped")
    if errors and not rows:
        raise typer.Exit(2)


@sms_app.command("list")
def sms_list(
    account_id: Annotated[int | None, typer.Option(help="only this account")] = None,
    task_id: Annotated[int | None, typer.Option(help="only this task")] = None,
    limit: Annotated[int, typer.Option(help="newest N messages")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """List post-call SMS messages, newest first."""

    async def go(rt: Runtime) -> list[dict[str, object]]:
        async with rt.sessions() as session:
            found = await sms.list_messages(
                session, account_id=account_id, task_id=task_id, limit=limit
            )
        return [
            {
                "id": m.id,
                "accountId": m.account_id,
                "taskId": m.task_id,
                "voiceId": m.voice_id,
                "number": m.number,
                "trigger": m.trigger,
                "senderId": m.sender_id,
                "content": m.content,
                "sendAt": m.send_at.isoformat(),
                "state": "sent" if m.state == sms.SENT else "pending",
            }
            for m in found
        ]

    messages = with_runtime(database_url, go)
    if as_json:
        for m in messages:
            typer.echo(json.dumps(m, ensure_ascii=False))
        return
    table = Table("id", "task", "number", "trigger", "state", "content")
    for m in messages:
        table.add_row(
            str(m["id"]),
            str(m["taskId"]),
            str(m["number"]),
            str(m["trigger"]),
            str(m["state"]),
            str(m["content"]),
        )
    console.print(table)


@files_app.command("list")
def files_list(
    account_id: Annotated[int | None, typer.Option(help="only this account")] = None,
    limit: Annotated[int, typer.Option(help="newest N files")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """List uploaded voice files with their decoded duration, newest first."""

    async def go(rt: Runtime) -> list[dict[str, object]]:
        async with rt.sessions() as session:
            found = await files.list_files(session, account_id=account_id, limit=limit)
        return [
            {
                "fileId": f.file_id,
                "accountId": f.account_id,
                "fileName": f.file_name,
                "size": f.size,
                "durationSeconds": None if f.duration_ms is None else f.duration_ms / 1000,
                "createdAt": f.created_at.isoformat(),
            }
            for f in found
        ]

    rows = with_runtime(database_url, go)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table("file id", "account", "name", "bytes", "duration", "uploaded")
    for row in rows:
        seconds = row["durationSeconds"]
        table.add_row(
            str(row["fileId"]),
            str(row["accountId"]),
            str(row["fileName"]),
            str(row["size"]),
            "?" if seconds is None else f"{seconds:.1f} s",
            str(row["createdAt"]),
        )
    console.print(table)
