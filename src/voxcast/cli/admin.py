"""`voxcast admin ...`: accounts, apps (push URL), IP whitelist, balance, secret key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from voxcast.cli.common import DatabaseOpt, kept_out_of_ps, parse_money, read_secret, with_runtime
from voxcast.cli.dnc import dnc_app
from voxcast.cli.numbers import number_app
from voxcast.cli.scripts import scripts_app
from voxcast.cli.trunks import trunk_app
from voxcast.cli.users import create_user
from voxcast.domain.codes import ApiError, Code
from voxcast.security import generate_key

if TYPE_CHECKING:
    from voxcast.runtime import Runtime

admin_app = typer.Typer(help="Administer accounts, apps, keys and balances.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)
admin_app.command("create-user")(create_user)


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
    from voxcast.services import accounts

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
        creds = with_runtime(database_url, go, setup=True)
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
            help="voice: status reports; cc: call-center records; ring: agent ringing events; "
            "sms: SMS delivery reports"
        ),
    ] = "voice",
    database_url: DatabaseOpt = None,
) -> None:
    """Set where a voice app's status reports (or call-center pushes) are sent."""
    from voxcast.services import accounts

    secret = read_secret(secret, secret_file, "--secret")
    if kind not in ("voice", "cc", "ring", "sms"):
        _fail(ApiError(Code.PARAMETER, "--kind: voice, cc, ring or sms"))

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            if kind == "voice":
                await accounts.set_push(
                    session, rt.secrets, app_id, url=url, batch=batch, secret=secret
                )
            elif kind == "sms":
                await accounts.set_sms_push(session, app_id, url=url)
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
    from voxcast.services import accounts

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
    from voxcast.services import accounts

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
    from voxcast.services import accounts

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
    calling_hours: Annotated[
        str | None,
        typer.Option(
            help='never dial outside these hours of the callee\'s local time, e.g. "08:00-21:00";'
            ' "off" removes the guard (docs/compliance.md)'
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Change an account's billing period, dialing limits, time zone and calling hours."""
    from voxcast.services import accounts

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
                calling_hours=calling_hours,
            )
            return (
                f"billPeriod {a.bill_period}, maxCps {a.max_cps}, maxChannels "
                f"{a.max_channels}, maxConcurrentTasks {a.max_concurrent_tasks}, "
                f"timezone {a.timezone}, callingHours {a.calling_hours or 'off'}"
            )

    try:
        summary = with_runtime(database_url, go, setup=True)
    except ApiError as err:
        _fail(err)
        return
    console.print(f"account {account_id}: {summary}")


@admin_app.command("set-voice")
def set_voice(
    account_id: Annotated[int, typer.Option(help="account id")],
    key: Annotated[
        str, typer.Option(help="LAN[:ACCENT[:GENDER]], e.g. EN, EN:44, EN:*:2 (* = any)")
    ],
    voice: Annotated[
        str | None,
        typer.Option(help="voice address: piper:/x.onnx, festival:NAME, espeak:NAME, ..."),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the account's voice")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Give an account its own voice for a language (docs/tts.md, "Operator voices")."""
    from voxcast.services import speech

    if (voice is None) != remove:
        raise typer.BadParameter("give --voice ADDRESS, or --remove")

    async def go(rt: Runtime) -> tuple[dict[str, str], str | None]:
        async with rt.sessions.begin() as session:
            return await speech.set_voice(session, account_id, key, voice)

    try:
        mapping, problem = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    if problem is not None:
        err_console.print(f"[yellow]warning[/yellow] this machine cannot speak with it: {problem}")
    console.print(f"account {account_id}: voices {json.dumps(mapping, ensure_ascii=False)}")


@admin_app.command("gen-secret-key")
def gen_secret_key() -> None:
    """Print a new server key for VOXCAST_SECRET_KEY."""
    typer.echo(generate_key())


rates_app = typer.Typer(
    help="Destination rates (USD per minute, by number prefix).", no_args_is_help=True
)
admin_app.add_typer(rates_app, name="rates")
sms_app = typer.Typer(help="SMS messages (sendSms and post-call).", no_args_is_help=True)
admin_app.add_typer(sms_app, name="sms")
smsc_app = typer.Typer(help="SMSC connections the SMPP transport binds to.", no_args_is_help=True)
admin_app.add_typer(smsc_app, name="smsc")
files_app = typer.Typer(help="Uploaded voice files.", no_args_is_help=True)
admin_app.add_typer(files_app, name="files")
admin_app.add_typer(trunk_app, name="trunk")
admin_app.add_typer(number_app, name="number")
admin_app.add_typer(scripts_app, name="scripts")
admin_app.add_typer(dnc_app, name="dnc")


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
    from voxcast.services import rates

    with file.open(newline="", encoding="utf-8-sig") as fh:
        rows, errors = rates.parse_rate_csv(fh)
    for message in errors:
        err_console.print(f"[yellow]skipped[/yellow] {message}")

    async def go(rt: Runtime) -> None:
        with Progress(console=console, transient=True) as bar:
            handle = bar.add_task("importing rates", total=len(rows))
            async with rt.sessions.begin() as session:
                await rates.import_rows(
                    session, account_id, rows, progress=lambda: bar.advance(handle)
                )

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
    """List SMS messages (sendSms and post-call), newest first."""
    from voxcast.services import sms

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
                "msgId": m.msg_id,
                "origin": m.origin,
                "orderId": m.order_id,
                "status": m.status,
                "segments": m.segments,
                "stat": m.stat,
            }
            for m in found
        ]

    messages = with_runtime(database_url, go)
    if as_json:
        for m in messages:
            typer.echo(json.dumps(m, ensure_ascii=False))
        return
    table = Table("msgId", "task", "number", "trigger", "status", "content")
    for m in messages:
        table.add_row(
            str(m["msgId"]),
            str(m["taskId"]),
            str(m["number"]),
            str(m["trigger"]),
            str(m["status"]),
            str(m["content"]),
        )
    console.print(table)


@smsc_app.command("add")
def smsc_add(
    host: Annotated[str, typer.Option(help="SMSC host name or address")],
    system_id: Annotated[str, typer.Option(help="SMPP system_id (the bind's login)")],
    port: Annotated[int, typer.Option(help="SMPP port")] = 2775,
    password: Annotated[
        str | None, typer.Option(help="SMPP password" + kept_out_of_ps("--password"))
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option(help="read the SMPP password from this file (one line)")
    ] = None,
    system_type: Annotated[str, typer.Option(help="SMPP system_type (often empty)")] = "",
    window: Annotated[int, typer.Option(help="submit_sm in flight at once")] = 10,
    rate: Annotated[int, typer.Option(help="submit_sm per second at most")] = 50,
    disabled: Annotated[bool, typer.Option(help="store it without binding to it")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Add an SMSC: workers started afterwards send texts through it instead of the sandbox."""
    from voxcast.services import smsc

    secret = read_secret(password, password_file, "--password") or ""

    async def go(rt: Runtime) -> int:
        async with rt.sessions.begin() as session:
            row = await smsc.add(
                session,
                rt.secrets,
                host=host,
                port=port,
                system_id=system_id,
                password=secret,
                system_type=system_type,
                window=window,
                rate=rate,
                enabled=not disabled,
                now=rt.clock.now(),
            )
            return row.id

    try:
        smsc_id = with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
        return
    console.print(f"SMSC {smsc_id} added: {system_id}@{host}:{port}")


@smsc_app.command("list")
def smsc_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """List SMSC connections (passwords are never shown)."""
    from voxcast.services import smsc

    async def go(rt: Runtime) -> list[dict[str, object]]:
        async with rt.sessions() as session:
            return [
                {
                    "id": r.id,
                    "host": r.host,
                    "port": r.port,
                    "systemId": r.system_id,
                    "systemType": r.system_type,
                    "window": r.window,
                    "rate": r.rate,
                    "enabled": r.enabled,
                }
                for r in await smsc.list_all(session)
            ]

    rows = with_runtime(database_url, go)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("id", "host", "port", "system_id", "system_type", "window", "rate", "enabled")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


@smsc_app.command("remove")
def smsc_remove(
    smsc_id: Annotated[int, typer.Argument(help="the SMSC's id (see `voxcast admin smsc list`)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Remove an SMSC connection."""
    from voxcast.services import smsc

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await smsc.remove(session, smsc_id)

    try:
        with_runtime(database_url, go)
    except ApiError as err:
        _fail(err)
    console.print(f"SMSC {smsc_id} removed")


@files_app.command("list")
def files_list(
    account_id: Annotated[int | None, typer.Option(help="only this account")] = None,
    limit: Annotated[int, typer.Option(help="newest N files")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """List uploaded voice files with their decoded duration, newest first."""
    from voxcast.services import files

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
