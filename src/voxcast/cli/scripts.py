"""`voxcast admin scripts ...`: import, check and list AI robot scripts (docs/ai.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from voxcast.cli.common import DatabaseOpt, with_runtime
from voxcast.domain import scripts as script_format
from voxcast.domain.codes import ApiError
from voxcast.runtime import Runtime
from voxcast.services import accounts, scripts

scripts_app = typer.Typer(
    help="AI robot scripts (dialogFlowId = scriptId): import, check, list.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


def _refuse(message: str) -> None:
    err_console.print(f"[red]error[/red] {message}", markup=False, highlight=False)
    raise typer.Exit(2)


def _document(file: Path | None, example: str | None) -> Any:
    if (file is None) == (example is None):
        _refuse("give a FILE.json or --example NAME, not both")
    try:
        if example is not None:
            return scripts.example_document(example)
        assert file is not None
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _refuse(f"no example script {example!r}")
    except (ValueError, UnicodeDecodeError) as err:
        _refuse(f"{file}: not JSON ({err})")
    return None


def _problems(document: Any) -> list[str]:
    """Every problem of the document: the format error, or all validation findings."""
    try:
        script = script_format.parse(document)
    except script_format.ScriptFormatError as err:
        return [str(err)]
    return [str(p) for p in script_format.validate(script)]


FileArg = Annotated[
    Path | None,
    typer.Argument(help="the script, JSON (docs/ai.md)", dir_okay=False, show_default=False),
]
ExampleOpt = Annotated[
    str | None, typer.Option(help="a script that ships with voxcast: payment_reminder")
]


@scripts_app.command("check")
def check(file: FileArg = None, example: ExampleOpt = None) -> None:
    """Validate a script without storing it: every problem, one a line, with its node and
    field; exit status 2 when there is any."""
    problems = _problems(_document(file, example))
    for problem in problems:
        err_console.print(problem, markup=False, highlight=False)
    if problems:
        raise typer.Exit(2)
    console.print("ok")


@scripts_app.command("import")
def import_script(
    account_id: Annotated[int, typer.Option(help="the account the script belongs to")],
    file: FileArg = None,
    script_id: Annotated[
        int | None, typer.Option(help="replace this script of the account (a new revision)")
    ] = None,
    example: ExampleOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Store a script for an account and print its id (the dialogFlowId and scriptId)."""
    document = _document(file, example)
    problems = _problems(document)
    if problems:
        for problem in problems:
            err_console.print(problem, markup=False, highlight=False)
        raise typer.Exit(2)

    async def go(rt: Runtime) -> tuple[int, int]:
        async with rt.sessions.begin() as session:
            await accounts.get_account(session, account_id)
            if script_id is None:
                row = await scripts.add_script(session, account_id, document, rt.clock.now())
            else:
                row = await scripts.update_script(
                    session, account_id, script_id, document, rt.clock.now()
                )
            return row.id, row.revision

    try:
        new_id, revision = with_runtime(database_url, go)
    except ApiError as err:
        _refuse(err.reason)
        return
    typer.echo(new_id if script_id is None else f"{new_id} revision {revision}")


@scripts_app.command("list")
def list_scripts(
    account_id: Annotated[int, typer.Option(help="the account")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """The account's scripts, oldest first."""

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.readonly() as session:
            await accounts.get_account(session, account_id)
            rows = await scripts.list_scripts(session, account_id)
            return [
                {
                    "dialogFlowId": r.id,
                    "name": r.name,
                    "revision": r.revision,
                    "updated": r.updated_at.isoformat(timespec="seconds"),
                }
                for r in rows
            ]

    try:
        rows = with_runtime(database_url, go)
    except ApiError as err:
        _refuse(err.reason)
        return
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table("id", "name", "revision", "updated (UTC)")
    for row in rows:
        table.add_row(str(row["dialogFlowId"]), row["name"], str(row["revision"]), row["updated"])
    console.print(table)
