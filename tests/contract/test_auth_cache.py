"""The verified-key cache: a changed key or account is refused at once in the same process and
within the TTL from another process; read-only requests do not wait for SQLite's write lock."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

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


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every database read of a key by the Sign check, by name."""
    reads: list[str] = []
    real = accounts.find_by_api_key

    async def counted(session: AsyncSession, name: str) -> tuple[Account, ApiKey] | None:
        reads.append(name)
        await asyncio.sleep(0.05)  # a slow read, so the other requests arrive while it runs
        return await real(session, name)

    monkeypatch.setattr(accounts, "find_by_api_key", counted)
    return reads


async def test_requests_missing_the_same_key_together_read_it_once(
    http: httpx.AsyncClient,
    tenant: Tenant,
    rt: Runtime,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty requests in flight when the entry is gone used to read the key twenty times at
    once, and all waited for the last read (the API's p99 under load)."""
    rt.auth_cache.clear()
    reads = _count_reads(monkeypatch)
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    statuses = await asyncio.gather(*(_status(http, key, secret, clock) for _ in range(20)))
    assert statuses == ["0"] * 20
    assert reads == [key]
    # unknown keys alike: one read, every request refused -1
    statuses = await asyncio.gather(*(_status(http, "nokey", secret, clock) for _ in range(5)))
    assert statuses == ["-1"] * 5
    assert reads == [key, "nokey"]
    assert rt.auth_cache.loading == {}


async def test_an_entry_is_reread_in_the_background_before_it_expires(
    http: httpx.AsyncClient,
    tenant: Tenant,
    rt: Runtime,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    rt.auth_cache.clock = lambda: now[0]
    rt.auth_cache.clear()
    reads = _count_reads(monkeypatch)
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    assert await _status(http, key, secret, clock) == "0"
    assert len(reads) == 1
    now[0] += 1.4  # under three quarters of the 2 s: served from memory
    assert await _status(http, key, secret, clock) == "0"
    assert len(reads) == 1
    now[0] += 0.2  # in the last quarter: answered from memory while one reread starts
    answers = await asyncio.gather(*(_status(http, key, secret, clock) for _ in range(5)))
    assert answers == ["0"] * 5
    assert len(reads) == 2
    entry = rt.auth_cache.get(key)
    assert entry is not None
    await asyncio.wait_for(asyncio.gather(*accounts._rereads), timeout=5)
    entry = rt.auth_cache.get(key)
    assert entry is not None
    assert entry.expires == pytest.approx(1003.6)
    now[0] += 0.6  # past the first entry's expiry: the reread's entry answers, no read
    assert await _status(http, key, secret, clock) == "0"
    assert len(reads) == 2


async def test_a_key_gone_on_the_reread_is_refused(
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
            await session.delete(row)
    finally:
        await other.close()
    now[0] += 1.6
    assert await _status(http, key, secret, clock) == "0"  # still within the TTL
    await asyncio.wait_for(asyncio.gather(*accounts._rereads), timeout=5)
    assert await _status(http, key, secret, clock) == "-1"
