"""Engine and session set-up for SQLite (WAL) and PostgreSQL, and migrations on start."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

try:
    import asyncpg  # type: ignore[import-untyped]

    _DRIVER_UNAVAILABLE: tuple[type[BaseException], ...] = (
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        asyncpg.InterfaceError,
    )
except ImportError:  # pragma: no cover - SQLite-only installs
    _DRIVER_UNAVAILABLE = ()

#: seconds to wait for a PostgreSQL connection before the request or tick fails
CONNECT_TIMEOUT_S = 5.0
#: milliseconds a statement sent to PostgreSQL may stay unacknowledged by the server's host
#: before the connection is given up (TCP_USER_TIMEOUT): a link that drops packets would
#: otherwise hold a session for TCP's ~15 minutes of retransmissions, since no statement
#: timeout covers the network. A slow statement is not affected (its bytes are acknowledged).
LINK_TIMEOUT_MS = 10_000
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
    # a server that does not answer must fail a request in seconds, not asyncpg's 60
    kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT_S})
    engine = create_async_engine(full, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _give_up_on_a_dead_link(dbapi_conn: Any, _record: Any) -> None:
        transport = getattr(dbapi_conn.driver_connection, "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        option = getattr(socket, "TCP_USER_TIMEOUT", None)  # Linux only
        if sock is not None and option is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, option, LINK_TIMEOUT_MS)

    return engine


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (down, restarting, connection cut),
    as opposed to a query that failed on a reachable database."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, (OperationalError, InterfaceError, OSError, TimeoutError)):
            return True
        if isinstance(seen, _DRIVER_UNAVAILABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def make_sessionmaker(
    engine: AsyncEngine,
    info: dict[str, Any] | None = None,
    class_: type[AsyncSession] = AsyncSession,
) -> async_sessionmaker[AsyncSession]:
    """`info` is copied into each session's `Session.info` (the runtime's auth cache);
    `class_` is the API's session, which answers a database outage with -18."""
    return async_sessionmaker(engine, class_=class_, expire_on_commit=False, info=info or {})


def make_readonly_sessionmaker(
    engine: AsyncEngine,
    info: dict[str, Any] | None = None,
    class_: type[AsyncSession] = AsyncSession,
) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (the balance, queries, the Sign check): on SQLite
    they do not take the write lock. They share the engine's connection pool."""
    return make_sessionmaker(engine.execution_options(**{READ_ONLY: True}), info, class_)


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


#: seconds between start-up attempts to reach the database: doubling from the first, capped
START_RETRY_FIRST_S = 1.0
START_RETRY_MAX_S = 30.0


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else ""


async def migrate_when_reachable(
    engine: AsyncEngine,
    log: logging.Logger,
    *,
    first_s: float = START_RETRY_FIRST_S,
    max_s: float = START_RETRY_MAX_S,
) -> None:
    """`migrate`, waiting for the database while it cannot be reached (down, restarting,
    refusing connections): one warning per attempt, with the pause before the next, and no
    traceback. A long-running process started before its database (a reboot, a fail-over)
    then starts when it is back instead of dying. Any other failure is raised."""
    pause = first_s
    since: float | None = None
    while True:
        try:
            await migrate(engine)
        except Exception as exc:
            if not unavailable(exc):
                raise
            since = since if since is not None else time.monotonic()
            log.warning(
                "database unavailable (%s: %s), retrying in %g s",
                type(exc).__name__,
                _first_line(exc),
                pause,
            )
            await asyncio.sleep(pause)  # a pause between connection attempts, not a wait
            pause = min(pause * 2, max_s)
            continue
        if since is not None:
            log.warning("database reachable again after %.1f s", time.monotonic() - since)
        return


class Outage:
    """One loop's view of the database: a warning when it becomes unreachable and a line when
    it is back, instead of a traceback on every pass while it is down."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        #: monotonic time the current outage was first seen; None while reachable
        self.since: float | None = None

    def failed(self, exc: BaseException, doing: str) -> bool:
        """Log a failed pass; True when it was the database being unreachable."""
        if not unavailable(exc):
            self.log.exception("%s failed", doing)
            return False
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning(
                "database unreachable (%s: %s); %s",
                type(exc).__name__,
                _first_line(exc),
                self.what,
            )
        return True

    def ok(self) -> None:
        if self.since is not None:
            self.log.warning("database reachable again after %.1f s", time.monotonic() - self.since)
            self.since = None
