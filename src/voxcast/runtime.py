"""The objects one voxcast process shares: settings, clock, database and secret box."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voxcast import metrics
from voxcast.config import Settings
from voxcast.ports import Clock
from voxcast.security import SecretBox, load_or_create_key
from voxcast.services.authcache import INFO_KEY, AuthCache
from voxcast.storage.db import (
    make_engine,
    make_readonly_sessionmaker,
    make_sessionmaker,
    migrate,
    migrate_when_reachable,
)

log = logging.getLogger("voxcast.runtime")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    #: real time, for what must not follow a faster sandbox clock (the Sign timestamp window)
    wall: Clock
    #: sessions for work that only reads: on SQLite they never wait for the write lock
    readonly: async_sessionmaker[AsyncSession]
    #: verified API keys (docs/security.md): invalidated by this runtime's sessions' writes
    auth_cache: AuthCache

    async def close(self) -> None:
        await self.engine.dispose()


async def open_runtime(
    settings: Settings,
    clock: Clock,
    *,
    run_migrations: bool = True,
    wall: Clock | None = None,
    wait_for_database: bool = False,
) -> Runtime:
    """Connect to the database (migrating it first) and load the secret key. With
    `wait_for_database` (long-running processes: serve, worker) an unreachable database is
    waited for with a warning per attempt; otherwise it fails at once (one-shot commands)."""
    settings.check()
    engine = make_engine(settings.resolved_database_url())
    metrics.watch_engine(engine)
    if run_migrations and wait_for_database:
        await migrate_when_reachable(engine, log)
    elif run_migrations:
        await migrate(engine)
    box = SecretBox(load_or_create_key(settings.secret_key, settings.data_dir))
    cache = AuthCache(settings.auth_cache_seconds)
    info = {INFO_KEY: cache}
    return Runtime(
        settings,
        clock,
        engine,
        make_sessionmaker(engine, info),
        box,
        wall or clock,
        make_readonly_sessionmaker(engine, info),
        cache,
    )
