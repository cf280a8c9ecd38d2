"""Helpers shared by the CLI commands: options, settings and runtime set-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar

import typer

from voxcast.clock import SystemClock
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


def settings_for(database_url: str | None) -> Settings:
    settings = Settings()
    if database_url:
        settings.database_url = database_url
    return settings


async def open_rt(settings: Settings, clock: Clock | None = None) -> Runtime:
    return await open_runtime(settings, clock or SystemClock())


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
