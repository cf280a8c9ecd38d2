"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured),
a runtime on a fixed clock, the ASGI app, signed SDK clients and ready-made accounts."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates, scripts
from voxcast.storage.db import async_url, make_engine, migrate
from voxcast.storage.models import AgentGroup
from voxcast.storage.scripts import ScriptRow

#: every integration test runs on SQLite and on this PostgreSQL (the machine's local one by
#: default, as in CI); VOXCAST_TEST_POSTGRES=off runs SQLite only, leaving PostgreSQL-only
#: tests out of the collection rather than skipping them
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("VOXCAST_TEST_POSTGRES") or LOCAL_POSTGRES
if PG_URL == "off":
    PG_URL = ""
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
collect_ignore = (
    []
    if PG_URL
    else [
        "integration/test_crash_recovery.py",
        "integration/test_cluster_workers.py",
        "integration/test_readyz.py",
        "integration/test_db_refused.py",
        "integration/test_seat_recovery.py",
        "cluster",
    ]
)
pytest_plugins = [
    "tests.cpu_report",
    "tests.loop_stalls",
    "tests.route_cache",
    "tests.stall_inject",
    "tests.stall_report",
]


def _pg_admin_url() -> str:
    return async_url(PG_URL)


class PostgresFactory:
    """Makes one migrated template database per test process, then hands each test a database
    in the template's state: a copy at first, later one a finished test gave back, wiped.
    (CREATE DATABASE costs seconds of the server's time on a busy machine, a wipe of these
    small tables a fraction of that.)"""

    def __init__(self) -> None:
        self.template = f"voxcast_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.made: list[str] = []
        self._ready = False
        self._clean: list[str] = []
        self._wipe_sql = ""

    def _base(self) -> str:
        return _pg_admin_url().rsplit("/", 1)[0]

    def _dsn(self, name: str) -> str:
        return f"{PG_URL.rsplit('/', 1)[0]}/{name}"

    async def _admin(self, sql: str) -> None:
        engine = create_async_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    async def new_database(self) -> str:
        """A new copy of the template, for the test alone (drop it with `drop`)."""
        if not self._ready:
            await self._admin(f'CREATE DATABASE "{self.template}"')
            engine = make_engine(f"{self._base()}/{self.template}")
            await migrate(engine)
            await engine.dispose()
            self._ready = True
        name = f"voxcast_t_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return f"{self._base()}/{name}"

    async def lease(self) -> str:
        """A database in the template's state, given back with `give_back`."""
        if self._clean:
            return self._clean.pop()
        return await self.new_database()

    async def give_back(self, url: str) -> None:
        """Wipe `url` for the next test: whatever is still connected to it (a server the test
        started, a pool it left open) is cut off first; every table but alembic's is emptied
        and every sequence restarts, as in the template. A database that cannot be wiped is
        dropped instead."""
        name = url.rsplit("/", 1)[1]
        try:
            conn = await asyncpg.connect(self._dsn(name))
            try:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if not self._wipe_sql:
                    self._wipe_sql = await self._wipe_statements(conn)
                await conn.execute(self._wipe_sql)
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError):
            await self.drop(url)
            return
        self._clean.append(url)

    @staticmethod
    async def _wipe_statements(conn: asyncpg.Connection) -> str:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS t FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        sequences = await conn.fetch(
            "SELECT quote_ident(sequencename) AS s FROM pg_sequences WHERE schemaname = 'public'"
        )
        # replica role: no foreign-key triggers while every table is emptied anyway
        sql = ["SET synchronous_commit = off", "SET session_replication_role = replica"]
        sql += [f"DELETE FROM {row['t']}" for row in tables]
        sql += [f"SELECT setval('{row['s']}', 1, false)" for row in sequences]
        sql.append("SET session_replication_role = DEFAULT")
        return ";\n".join(sql)

    async def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop_all(self) -> None:
        for url in self._clean:
            await self.drop(url)
        self._clean.clear()
        if self._ready:
            await self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_factory() -> Iterator[PostgresFactory | None]:
    if not PG_URL:
        yield None
        return
    factory = PostgresFactory()
    yield factory
    asyncio.run(factory.drop_all())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test process; each test gets a copy (migrating costs
    about 0.1 s of CPU, a copy almost nothing)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "voxcast.db"

    async def make() -> None:
        engine = make_engine(f"sqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(make())
    return path


@asynccontextmanager
async def database(
    backend: str, directory: Path, pg_factory: PostgresFactory | None, sqlite_template: Path
) -> AsyncIterator[str]:
    """A migrated database of its own on `backend` ("sqlite": a file in `directory`)."""
    if backend == "sqlite":
        target = directory / "voxcast.db"
        shutil.copy2(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    assert pg_factory is not None  # "postgres" is a backend only when PG_URL is set
    url = await pg_factory.lease()
    yield url
    await pg_factory.give_back(url)


@pytest.fixture(params=BACKENDS)
async def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_factory: PostgresFactory | None,
    sqlite_template: Path,
) -> AsyncIterator[str]:
    """A migrated database of its own for the test; every integration test runs on both
    backends."""
    async with database(request.param, tmp_path, pg_factory, sqlite_template) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def settings_for_test(db_url: str, directory: Path) -> Settings:
    """Settings on `db_url` with a data directory in `directory` and a new secret key."""
    s = Settings()
    s.database_url = db_url
    s.data_dir = directory / "var"
    s.secret_key = generate_key()
    return s


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for_test(db_url, tmp_path)


async def open_test_runtime(settings: Settings, clock: FixedClock) -> Runtime:
    # the database is a copy of a migrated template: the migration check would only load
    # every revision file again (a fifth of a contract test's CPU). Migrating a database that
    # is at head is still done by every test that runs the real command or server.
    return await open_runtime(settings, clock, run_migrations=False)


@pytest.fixture
async def rt(settings: Settings, clock: FixedClock) -> AsyncIterator[Runtime]:
    runtime = await open_test_runtime(settings, clock)
    yield runtime
    await runtime.close()


@pytest.fixture
def app(rt: Runtime):  # type: ignore[no-untyped-def]
    return create_app(rt)


@dataclass
class Tenant:
    """An account with its credentials and an SDK client bound to the test app."""

    creds: accounts.Credentials
    client: AsyncVoxcastClient

    @property
    def app_id(self) -> str:
        return self.creds.app_id


async def make_tenant(
    rt: Runtime,
    app,
    clock: FixedClock,
    name: str,  # type: ignore[no-untyped-def]
    balance: str = "100",
    rate: str | None = "0.02",
) -> Tenant:
    """An account; with `rate` it has a catch-all rate (per minute) so any number is priced."""
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, clock.now(), name=name, balance=Decimal(balance)
        )
        if rate is not None:
            await rates.set_rate(session, creds.account_id, "", Decimal(rate))
    client = AsyncVoxcastClient(
        "http://voxcast.test",
        creds.api_key,
        creds.api_secret,
        transport=httpx.ASGITransport(app=app),
        timestamp=lambda: int(clock.now().timestamp()),
    )
    return Tenant(creds, client)


@pytest.fixture
async def tenant(rt: Runtime, app, clock: FixedClock) -> AsyncIterator[Tenant]:  # type: ignore[no-untyped-def]
    t = await make_tenant(rt, app, clock, "alice")
    yield t
    await t.client.aclose()


@pytest.fixture
async def other_tenant(rt: Runtime, app, clock: FixedClock) -> AsyncIterator[Tenant]:  # type: ignore[no-untyped-def]
    t = await make_tenant(rt, app, clock, "mallory")
    yield t
    await t.client.aclose()


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A raw HTTP client on the app, for requests the SDK would never send."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://voxcast.test"
    ) as client:
        yield client


async def add_seat_group(rt: Runtime, tenant: Tenant, group_id: int, name: str = "sample") -> None:
    """An agent group of the tenant's app with a given id (the vendor's samples name
    sipGroupId 1000019 and the like)."""
    async with rt.sessions.begin() as session:
        session.add(
            AgentGroup(
                id=group_id,
                account_id=tenant.creds.account_id,
                app_id=tenant.app_id,
                group_name=f"{name}-{group_id}",
                callin_strategy=4,
                settings={},
                created_at=rt.clock.now(),
            )
        )


async def add_script(rt: Runtime, tenant: Tenant, *script_ids: int) -> None:
    """Scripts of the tenant with these ids (the shipped payment reminder), so AI tasks can
    name them as scriptId, as the vendor's samples do (scriptId 1, 7...)."""
    document = scripts.example_document()
    async with rt.sessions.begin() as session:
        for script_id in script_ids:
            session.add(
                ScriptRow(
                    id=script_id,
                    account_id=tenant.creds.account_id,
                    name=f"script {script_id}",
                    revision=1,
                    document=document,
                    created_at=rt.clock.now(),
                    updated_at=rt.clock.now(),
                )
            )
