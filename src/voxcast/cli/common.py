"""Helpers shared by the CLI commands: options, settings and runtime set-up."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from voxcast.clock import ScaledClock, SystemClock
from voxcast.config import Settings
from voxcast.ports import Clock

if TYPE_CHECKING:
    from voxcast.runtime import Runtime

T = TypeVar("T")

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path or postgresql://user@host/db (default: $VOXCAST_DATABASE_URL, "
        "else var/voxcast.db)",
    ),
]


SpeedOpt = Annotated[
    float,
    typer.Option(
        # without envvar the option's default (1) would override VOXCAST_SANDBOX_SPEED
        envvar="VOXCAST_SANDBOX_SPEED",
        help="run sandbox time N times faster than the wall clock",
    ),
]
EpochOpt = Annotated[
    float | None,
    typer.Option(
        help="unix seconds that scaled sandbox time counts from; give every process of one "
        "database the same value (default: now, or $VOXCAST_SANDBOX_EPOCH)"
    ),
]


def clock_for(settings: Settings, speed: float, epoch: float | None) -> Clock:
    """The wall clock, or a scaled sandbox clock anchored at `epoch`."""
    settings.sandbox_speed = speed
    if epoch is not None:
        settings.sandbox_epoch = epoch
    if speed == 1.0:
        return SystemClock()
    anchor = datetime.fromtimestamp(settings.sandbox_epoch, UTC) if settings.sandbox_epoch else None
    return ScaledClock(speed, anchor=anchor)


#: `voxcast --data-dir DIR` (or $VOXCAST_DATA_DIR), set by the root command for this run
data_dir_option: Path | None = None

#: the exit status of a refused command (docs/cli.md)
REFUSED = 2


def settings_for(database_url: str | None) -> Settings:
    settings = Settings()
    if data_dir_option is not None:
        settings.data_dir = data_dir_option
    if database_url:
        settings.database_url = database_url
    return settings


def columns(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """Plain aligned columns, never wrapped or clipped (the last one runs free): the same at
    any terminal width and through a pipe, and greppable."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headings)]
    for row in (headings, *rows):
        yield "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()


def fail(message: str, status: int = REFUSED) -> typer.Exit:
    """Print `message` as one line on standard error; raise what this returns."""
    typer.echo(f"voxcast: {message}", err=True)
    return typer.Exit(status)


def missing_state(settings: Settings) -> str | None:
    """What opening the runtime would create afresh (an SQLite file, the secret key file), as
    the one line that refuses it; None when everything it needs exists already.

    A command run from another directory would otherwise make an empty database and a new key
    under ./var and then answer "task 1 does not exist"."""
    missing: list[str] = []
    url = settings.resolved_database_url()
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).exists():
            missing.append(f"database {Path(path).absolute()}")
    if not settings.secret_key and not (settings.data_dir / "secret.key").exists():
        missing.append(f"secret key {(settings.data_dir / 'secret.key').absolute()}")
    if not missing:
        return None
    return (
        f"no voxcast data here: {' and '.join(missing)} not found (data dir "
        f"{settings.data_dir.absolute()}); point at yours with --data-dir DIR or "
        "VOXCAST_DATA_DIR (and VOXCAST_DATABASE_URL / VOXCAST_SECRET_KEY), or set up a new "
        "one with `voxcast admin create-account` or `voxcast serve`"
    )


async def open_rt(
    settings: Settings,
    clock: Clock | None = None,
    *,
    setup: bool = False,
    wait_for_database: bool = False,
) -> Runtime:
    """The runtime on `settings`; unless `setup`, refused (exit 2) when it would create a new
    database or secret key (see `missing_state`). `wait_for_database`: a long-running command
    waits (with a warning per attempt) for a database that is not up yet; a one-shot command
    fails at once."""
    # the database layer is imported by the commands that open it, not by every command
    from voxcast.runtime import open_runtime

    if not setup:
        problem = missing_state(settings)
        if problem is not None:
            raise fail(problem)
    return await open_runtime(
        settings, clock or SystemClock(), wall=SystemClock(), wait_for_database=wait_for_database
    )


def with_runtime(
    database_url: str | None, fn: Callable[[Runtime], Awaitable[T]], *, setup: bool = False
) -> T:
    """Open the runtime, run `fn`, close it; for one-shot admin commands. `setup`: a command
    that may start a new data directory (create-account)."""

    async def go() -> T:
        rt = await open_rt(settings_for(database_url), setup=setup)
        try:
            return await fn(rt)
        finally:
            await rt.close()

    return asyncio.run(go())


def parse_money(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise typer.BadParameter(f"{value!r} is not an amount")
    return amount


def kept_out_of_ps(option: str) -> str:
    """The end of a secret option's help: the two ways to give it that `ps` cannot show."""
    return (
        f"; '{option} -' reads it from standard input (unechoed at a terminal) and "
        f"{option}-file PATH from a file, which keeps it out of `ps`"
    )


def read_secret(value: str | None, path: Path | None, option: str) -> str | None:
    """A secret given as `OPTION VALUE`, `OPTION -` (standard input) or `OPTION-file PATH`.

    Command-line arguments are readable by every user of the host (`ps`, /proc): the other two
    forms keep the secret out of them. One line; its line ending is dropped. None when none of
    the three is given.
    """
    if value is not None and path is not None:
        raise typer.BadParameter(f"give {option} or {option}-file, not both")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            raise typer.BadParameter(f"{option}-file {path}: {reason}") from None
        return _one_line(text, f"{option}-file {path}")
    if value == "-":
        if sys.stdin.isatty():
            text = getpass.getpass(f"{option.lstrip('-')}: ")
        else:
            text = sys.stdin.read()
        return _one_line(text, f"{option} - (standard input)")
    return value


def _one_line(text: str, source: str) -> str:
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise typer.BadParameter(f"{source} is empty")
    if "\n" in secret or "\r" in secret:
        raise typer.BadParameter(f"{source} holds more than one line")
    return secret
