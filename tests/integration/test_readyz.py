"""`/readyz` of a running `voxcast serve` against a real PostgreSQL that refuses connections
(ALLOW_CONNECTIONS false, open ones cut): 503 naming the database at once, 200 once it is back.
PostgreSQL only (conftest leaves it out when VOXCAST_TEST_POSTGRES=off)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx

from tests.conftest import PG_URL, PostgresFactory
from tests.integration.server import Cli, serving
from tests.integration.test_operations import _ready


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _wait_ready(base: str, status: int) -> tuple[int, dict[str, object], float]:
    deadline = time.monotonic() + 60
    while True:
        found = await asyncio.to_thread(_ready, base)
        if found[0] == status or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_readyz_is_503_while_postgresql_refuses_connections_and_200_after(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None  # this module is collected only with PostgreSQL
    url = await pg_factory.lease()
    name = url.rsplit("/", 1)[1]
    cli = Cli.fresh(url, tmp_path / "var")
    try:
        with serving(cli) as base:
            status, body, _ = await asyncio.to_thread(_ready, base)
            assert (status, body["status"], body["failed"]) == (200, "ready", {})
            assert isinstance(body["databaseMs"], float)
            # the database refuses every connection, and those open are cut
            await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await _admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            status, body, took = await _wait_ready(base, 503)
            assert (status, body["status"], body["databaseMs"]) == (503, "unavailable", None)
            failed = body["failed"]
            assert isinstance(failed, dict) and list(failed) == ["database"]
            assert failed["database"] == f'database "{name}" is not currently accepting connections'
            # at once (a refusal), not after a connect timeout; slack for a loaded machine
            assert took < 10
            alive = await asyncio.to_thread(httpx.get, f"{base}/healthz", timeout=10)
            assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
            await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            status, body, _ = await _wait_ready(base, 200)
            assert (status, body["status"], body["failed"]) == (200, "ready", {})
    finally:
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await pg_factory.give_back(url)
