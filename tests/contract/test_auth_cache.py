"""The verified-key cache: a changed key or account is refused at once in the same process and
within the TTL from another process; read-only requests do not wait for SQLite's write lock."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from sqlalchemy import update

from tests.conftest import Tenant
from tests.helpers import signed_headers
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts
from voxcast.storage.models import Account, ApiKey


async def _balance(http: httpx.AsyncClient, key: str, secret: str, clock: FixedClock) -> object:
    headers = signed_headers(key, secret, int(clock.now().timestamp()))
    return (await http.get("/v3/getBalance", headers=headers)).json()


async def _status(http: httpx.AsyncClient, key: str, secret: str, clock: FixedClock) -> str:
    body = await _balance(http, key, secret, clock)
    assert isinstance(body, dict)
    status: str = body["status"]
    return status


async def test_disabled_key_is_refused_at_once_in_the_same_process(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    assert rt.auth_cache.get(key) is not None
    async with rt.sessions.begin() as session:
        row = await session.get(ApiKey, key)
        assert row is not None
        row.enabled = False
    assert await _status(http, key, secret, clock) == "-30"


async def test_rotated_secret_is_refused_at_once_and_the_new_one_accepted(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    async with rt.sessions.begin() as session:
        row = await session.get(ApiKey, key)
        assert row is not None
        row.secret_enc = rt.secrets.seal("the-new-secret")
    assert await _status(http, key, secret, clock) == "-1"
    assert await _status(http, key, "the-new-secret", clock) == "0"


async def test_update_statements_invalidate_at_once(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    """As the dialer bills calls: `update(Account)` through a session, not an ORM change."""
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _balance(http, key, secret, clock) == {
        "status": "0",
        "reason": "success",
        "balance": "100.000000",
        "gift": "0.000000",
        "credit": "0.000000",
    }
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Account)
            .where(Account.id == tenant.creds.account_id)
            .values(balance=Account.balance - Decimal("0.25"))
        )
    body = await _balance(http, key, secret, clock)
    assert isinstance(body, dict)
    assert body["balance"] == "99.750000"
    async with rt.sessions.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.api_key == key).values(enabled=False))
    assert await _status(http, key, secret, clock) == "-30"


async def test_locked_account_and_whitelist_are_applied_at_once(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "192.0.2.1")
    assert await _status(http, key, secret, clock) == "-2"
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "")
        account = await accounts.get_account(session, tenant.creds.account_id)
        account.locked = True
    assert await _status(http, key, secret, clock) == "-13"


async def test_another_process_change_is_seen_within_the_ttl(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, settings: Settings, clock: FixedClock
) -> None:
    """Two runtimes on one database stand for two processes; the cache's clock is stepped."""
    now = [1000.0]
    rt.auth_cache.clock = lambda: now[0]
    assert rt.auth_cache.ttl == 2.0
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    other = await open_runtime(settings, clock, run_migrations=False)
    try:
        async with other.sessions.begin() as session:
            row = await session.get(ApiKey, key)
            assert row is not None
            row.enabled = False
            await accounts.set_balance(session, tenant.creds.account_id, Decimal(7), relative=False)
    finally:
        await other.close()
    # within the TTL this process still trusts what it verified
    now[0] += 1.9
    assert await _status(http, key, secret, clock) == "0"
    now[0] += 0.2
    assert await _status(http, key, secret, clock) == "-30"


async def test_another_process_rotation_is_seen_within_the_ttl(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, settings: Settings, clock: FixedClock
) -> None:
    now = [1000.0]
    rt.auth_cache.clock = lambda: now[0]
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    other = await open_runtime(settings, clock, run_migrations=False)
    try:
        async with other.sessions.begin() as session:
            row = await session.get(ApiKey, key)
            assert row is not None
            row.secret_enc = other.secrets.seal("rotated")
    finally:
        await other.close()
    now[0] += 2.0
    assert await _status(http, key, secret, clock) == "-1"
    assert await _status(http, key, "rotated", clock) == "0"


async def test_a_read_only_request_does_not_wait_for_a_writer(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    """On SQLite a write transaction holds the one write lock; the Sign check and the balance
    only read, so they answer while it is held (they used to queue for the busy timeout)."""
    rt.auth_cache.clear()
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal(5), relative=False)
        await session.flush()
        body = await asyncio.wait_for(
            _balance(http, tenant.creds.api_key, tenant.creds.api_secret, clock), timeout=5
        )
    assert isinstance(body, dict)
    assert body["balance"] == "100.000000"
