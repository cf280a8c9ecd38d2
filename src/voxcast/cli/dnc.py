"""`voxcast admin dnc ...`: import and export do-not-call lists as CSV, read the audit trail."""

from __future__ import annotations

import csv
import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from voxcast import compliance
from voxcast.cli.common import DatabaseOpt, with_runtime
from voxcast.domain.codes import ApiError
from voxcast.runtime import Runtime
from voxcast.services import accounts

dnc_app = typer.Typer(
    help="Do-not-call lists: CSV import and export, audit trail (docs/compliance.md).",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)
#: numbers written per statement batch on import (a registry extract holds millions)
IMPORT_BATCH = 10_000

AccountOpt = Annotated[int, typer.Option(help="the account whose lists these are")]
AppOpt = Annotated[
    str | None, typer.Option(help="an app's list (default: the list of the whole account)")
]


def _run(database_url: str | None, fn: Any) -> Any:
    try:
        return with_runtime(database_url, fn)
    except ApiError as err:
        err_console.print(f"[red]error[/red] {err.reason}")
        raise typer.Exit(2) from err


def _operator() -> str:
    try:
        return f"cli {getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


#: kept for callers of the CLI module; the parser lives in compliance
read_numbers = compliance.read_numbers


@dnc_app.command("import")
def dnc_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, one number a line in the first column (any spelling)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    account_id: AccountOpt,
    app_id: AppOpt = None,
    region: Annotated[
        str | None, typer.Option(help="ISO country of numbers written without country code")
    ] = None,
    errors: Annotated[
        Path | None, typer.Option(help="also write the refused rows here (CSV: line,value,reason)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Add the numbers of a CSV to a list (audited as source "import"); every refused row is
    reported with its line number and reason, and the rest is imported."""
    with file.open(newline="", encoding="utf-8-sig") as fh:
        numbers, bad = read_numbers(csv.reader(fh), region)
    for line, value, reason in bad:
        err_console.print(f"[yellow]refused[/yellow] line {line}: {value!r}: {reason}")
    if errors is not None:
        with errors.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "value", "reason"])
            writer.writerows(bad)
    actor = _operator()

    async def go(rt: Runtime) -> int:
        added = 0
        async with rt.sessions.begin() as session:
            await accounts.get_account(session, account_id)
            if app_id:
                await accounts.require_app(session, account_id, app_id)
            for i in range(0, len(numbers), IMPORT_BATCH):
                added += len(
                    await compliance.add(
                        session,
                        account_id,
                        app_id or compliance.ACCOUNT_WIDE,
                        numbers[i : i + IMPORT_BATCH],
                        source=compliance.IMPORT,
                        actor=actor,
                        now=rt.clock.now(),
                    )
                )
        return added

    added = _run(database_url, go)
    owner = f"app {app_id}" if app_id else f"account {account_id}"
    console.print(
        f"{added} numbers added to the list of {owner}; "
        f"{len(numbers) - added} already listed or repeated; {len(bad)} rows refused"
    )
    if bad and not numbers:
        raise typer.Exit(2)


@dnc_app.command("export")
def dnc_export(
    account_id: AccountOpt,
    app_id: Annotated[
        str | None,
        typer.Option(help="one app's list; \"\" the account's own list (default: every list)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write here (default: standard output)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Write the lists as CSV: number (E.164), appId (empty: the account's list), source,
    createdAt (UTC, ISO 8601)."""

    async def go(rt: Runtime) -> list[list[str]]:
        async with rt.sessions() as session:
            await accounts.get_account(session, account_id)
            rows = await compliance.all_entries(session, account_id, app_id)
            return [
                [r.number, r.app_id, r.source, r.created_at.isoformat(timespec="seconds")]
                for r in rows
            ]

    rows = _run(database_url, go)
    if out is None:
        _write(sys.stdout, rows)
    else:
        with out.open("w", newline="", encoding="utf-8") as fh:
            _write(fh, rows)
        console.print(f"{len(rows)} numbers written to {out}")


def _write(fh: Any, rows: list[list[str]]) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(["number", "appId", "source", "createdAt"])
    writer.writerows(rows)


@dnc_app.command("audit")
def dnc_audit(
    account_id: AccountOpt,
    number: Annotated[str | None, typer.Option(help="one number's changes only")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Print the account's list changes as CSV: time, action, number, appId, source, actor."""
    e164 = None
    if number is not None:
        try:
            e164 = compliance.normalize(number)
        except compliance.BadNumber as err:
            err_console.print(f"[red]error[/red] --number: {err}")
            raise typer.Exit(2) from err

    async def go(rt: Runtime) -> list[list[str]]:
        async with rt.sessions() as session:
            rows = await compliance.audit_trail(session, account_id, e164, limit=1_000_000)
            return [
                [
                    r.at.isoformat(timespec="seconds"),
                    r.action,
                    r.number,
                    r.app_id,
                    r.source,
                    r.actor,
                ]
                for r in rows
            ]

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["time", "action", "number", "appId", "source", "actor"])
    writer.writerows(_run(database_url, go))
