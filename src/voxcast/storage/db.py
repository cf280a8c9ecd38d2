"""Engine and session set-up for SQLite (WAL) and PostgreSQL, and migrations on start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_MIGRATIONS = Path(__file__).parent / "migrations"
#: execution option of read-only sessions: on SQLite their transactions begin DEFERRED
READ_ONLY = "voxcast_read_only"
#: any fixed number: all voxcast processes take this lock around migrations on PostgreSQL
_MIGRATION_LOCK = 7_311_931_202


def async_url(url: str) -> str:
    """Map a plain database URL to the async driver voxcast uses for it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def is_sqlite(url: str) -> bool:
    return async_url(url).startswith("sqlite")


def _create_private(path: Path) -> None:
    """Create the database file 0600 (SQLite would make it 0644 under the usual umask, and
    gives the -wal and -shm files the database's own mode). An existing file keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite, WAL mode and a busy timeout so readers never block writers."""
    full = async_url(url)
    if full.startswith("sqlite"):
        path = full.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            _create_private(Path(path))
        engine = create_async_engine(full, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # voxcast issues BEGIN itself (below), so the driver must not
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # SQLite has one writer. A transaction that reads and then writes would fail with
            # "database is locked" (no retry) if another connection wrote in between; taking
            # the write lock at BEGIN makes such transactions wait their turn instead.
            # A read-only transaction never writes: in WAL mode it reads its snapshot beside
            # the writer, and taking the lock would queue every read behind every write.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(full, **kwargs)


def make_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """`info` is copied into each session's `Session.info` (the runtime's auth cache)."""
    return async_sessionmaker(engine, expire_on_commit=False, info=info or {})


def make_readonly_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (the balance, queries, the Sign check): on SQLite
    they do not take the write lock. They share the engine's connection pool."""
    return async_sessionmaker(
        engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False, info=info or {}
    )


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    command.upgrade(_alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
