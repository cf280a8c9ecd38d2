"""Helpers shared by the CLI commands: options, settings and runtime set-up."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from voxcast.clock import ScaledClock, SystemClock
from voxcast.config import Settings
from voxcast.ports import Clock
from voxcast.runtime import Runtime, open_runtime

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


def settings_for(database_url: str | None) -> Settings:
    settings = Settings()
    if database_url:
        settings.database_url = database_url
    return settings


async def open_rt(settings: Settings, clock: Clock | None = None) -> Runtime:
    return await open_runtime(settings, clock or SystemClock(), wall=SystemClock())


def with_runtime(database_url: str | None, fn: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open the runtime, run `fn`, close it; for one-shot admin commands."""

    async def go() -> T:
        rt = await open_rt(settings_for(database_url))
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
