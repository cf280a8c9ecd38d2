"""`voxcast admin create-user`: console users (docs/console.md); the password is read from
standard input or a file, never from the command line."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from voxcast.cli.common import DatabaseOpt, with_runtime
from voxcast.domain.codes import ApiError
from voxcast.runtime import Runtime
from voxcast.services import console_users
from voxcast.services.console_users import Role

console = Console()
err_console = Console(stderr=True)


def _read_password(path: Path | None) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise typer.BadParameter(f"--password-file {path}: {reason}") from None
    elif sys.stdin.isatty():
        text = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != text:
            raise typer.BadParameter("the two passwords differ")
    else:
        text = sys.stdin.read()
    password = text.removesuffix("\n").removesuffix("\r")
    if "\n" in password or "\r" in password:
        raise typer.BadParameter("the password holds more than one line")
    return password


def create_user(
    username: Annotated[str, typer.Argument(help="the sign-in name (3-64 of A-Z a-z 0-9 . _ @ -)")],
    role: Annotated[Role, typer.Option(help="admin: the platform; owner or readonly: an account")],
    account_id: Annotated[
        int | None, typer.Option(help="the account of an owner or read-only user")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(help="read the password from this file (one line); default: standard input"),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a console user; the password comes from standard input (asked twice at a
    terminal) or --password-file, so it never shows in `ps`."""
    password = _read_password(password_file)

    async def go(rt: Runtime) -> int:
        async with rt.sessions.begin() as session:
            user = await console_users.create_user(
                session,
                username=username,
                password=password,
                role=role,
                account_id=account_id,
                now=rt.wall.now(),
            )
            await console_users.audit(
                session,
                None,
                "user created",
                f"{username} ({role.value})",
                now=rt.wall.now(),
                address=None,
                username="voxcast admin",
                account_id=account_id,
            )
            return user.id

    try:
        user_id = with_runtime(database_url, go, setup=True)
    except ApiError as err:
        err_console.print(f"[red]error[/red] {err.reason}")
        raise typer.Exit(2) from None
    where = f" of account {account_id}" if account_id is not None else ""
    console.print(f"console user {user_id}: {username} ({role.value}{where})")
