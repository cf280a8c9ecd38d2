"""`voxcast admin number ...`: inbound numbers (DIDs) and the agent group each one rings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from voxcast.cli.common import DatabaseOpt, with_runtime
from voxcast.domain.codes import ApiError

if TYPE_CHECKING:
    from voxcast.runtime import Runtime

number_app = typer.Typer(
    help="Inbound numbers: which agent group a dialled number rings.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


def _run(database_url: str | None, fn: Any) -> Any:
    try:
        return with_runtime(database_url, fn)
    except ApiError as err:
        err_console.print(f"[red]error[/red] {err.reason}")
        raise typer.Exit(2) from err


@number_app.command("add")
def number_add(
    number: Annotated[str, typer.Option(help="the number callers dial (digits, optional +)")],
    group: Annotated[int, typer.Option(help="the agent group (voiceGroupId) it rings")],
    database_url: DatabaseOpt = None,
) -> None:
    """Route calls to NUMBER (an INVITE to the registrar's address) to an agent group."""
    from voxcast.services import numbers

    async def go(rt: Runtime) -> str:
        async with rt.sessions.begin() as session:
            row = await numbers.add_number(session, number, group, rt.clock.now(), field="--group")
            return f"number {row.number} rings agent group {row.group_id} (app {row.app_id})"

    console.print(_run(database_url, go))


@number_app.command("list")
def number_list(
    account_id: Annotated[int | None, typer.Option(help="only this account's")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """List inbound numbers and their groups."""
    from voxcast.services import numbers

    async def go(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.sessions() as session:
            rows, _ = await numbers.list_numbers(session, account_id=account_id)
            return rows

    table = Table("number", "group id", "group", "app", "account")
    for row in _run(database_url, go):
        table.add_row(
            row["number"],
            str(row["voiceGroupId"]),
            row["groupName"],
            row["appId"],
            str(row["accountId"]),
        )
    console.print(table)


@number_app.command("remove")
def number_remove(
    number: Annotated[str, typer.Option(help="the number")], database_url: DatabaseOpt = None
) -> None:
    """Stop taking calls to a number (they get 404)."""
    from voxcast.services import numbers

    async def go(rt: Runtime) -> None:
        async with rt.sessions.begin() as session:
            await numbers.remove_number(session, number)

    _run(database_url, go)
    console.print(f"number {number} removed")
