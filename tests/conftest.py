"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when configured),
a runtime on a fixed clock, the ASGI app, signed SDK clients and ready-made accounts."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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
from voxcast.services import accounts, rates
from voxcast.storage.db import async_url, make_engine, migrate
from voxcast.storage.models import SeatGroup

#: every integration test runs on SQLite and on this PostgreSQL (the machine's local one by
#: default, as in CI); VOXCAST_TEST_POSTGRES=off runs SQLite only, leaving PostgreSQL-only
#: tests out of the collection rather than skipping them
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("VOXCAST_TEST_POSTGRES") or LOCAL_POSTGRES
if PG_URL == "off":
    PG_URL = ""
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
collect_ignore = [] if PG_URL else ["integration/test_crash_recovery.py"]


def _pg_admin_url() -> str:
    return async_url(PG_URL)


class PostgresFactory:
    """Makes one migrated template database per test run, then a copy of it per test."""

    def __init__(self) -> None:
        self.template = f"voxcast_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.made: list[str] = []
        self._ready = False

    def _base(self) -> str:
        return _pg_admin_url().rsplit("/", 1)[0]

    async def _admin(self, sql: str) -> None:
        engine = create_async_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    async def new_database(self) -> str:
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

    async def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop_template(self) -> None:
        if self._ready:
            await self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_factory() -> Iterator[PostgresFactory | None]:
    if not PG_URL:
        yield None
        return
    factory = PostgresFactory()
    yield factory
    asyncio.run(factory.drop_template())


@pytest.fixture(params=BACKENDS)
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_factory: PostgresFactory | None
) -> AsyncIterator[str]:
    """A fresh, migrated-on-open database URL; every integration test runs on both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'voxcast.db'}"
        return
    assert pg_factory is not None  # "postgres" is a backend only when PG_URL is set
    url = await pg_factory.new_database()
    yield url
    await pg_factory.drop(url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    s = Settings()
    s.database_url = db_url
    s.data_dir = tmp_path / "var"
    s.secret_key = generate_key()
    return s


@pytest.fixture
async def rt(settings: Settings, clock: FixedClock) -> AsyncIterator[Runtime]:
    runtime = await open_runtime(settings, clock)
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
            SeatGroup(
                id=group_id,
                account_id=tenant.creds.account_id,
                app_id=tenant.app_id,
                group_name=f"{name}-{group_id}",
                callin_strategy=4,
                settings={},
                created_at=rt.clock.now(),
            )
        )
