"""Helpers shared by the CLI commands: options, settings and runtime set-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
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
