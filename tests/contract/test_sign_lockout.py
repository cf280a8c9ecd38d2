"""The failed-signature lock-out: VOXCAST_SIGN_FAILURES failed Sign checks from one address for
one Api-Key within VOXCAST_SIGN_FAILURE_WINDOW_SECONDS answer -15 ("Query too frequently") for
VOXCAST_SIGN_LOCKOUT_SECONDS without being checked; other addresses and keys are unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import signed_headers
from voxcast.api.app import create_app
from voxcast.clock import FixedClock
from voxcast.config import Settings
from voxcast.runtime import Runtime

ATTACKER, OFFICE = "203.0.113.5", "198.51.100.9"

Balance = Callable[..., Any]


@pytest.fixture
async def balance(app: Any, clock: FixedClock) -> AsyncIterator[Balance]:
    """getBalance from an address, signed with a secret; returns (status, reason)."""
    clients: dict[str, httpx.AsyncClient] = {}

    async def call(address: str, key: str, secret: str) -> tuple[str, str]:
        if address not in clients:
            clients[address] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                base_url="http://voxcast.test",
            )
        ts = int(clock.now().timestamp())
        resp = await clients[address].get("/v3/getBalance", headers=signed_headers(key, secret, ts))
        assert resp.status_code == 200
        got = resp.json()
        return got["status"], got["reason"]

    yield call
    for client in clients.values():
        await client.aclose()


async def test_ten_failed_signs_lock_the_key_out_from_that_address_for_five_minutes(
    balance: Balance, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    for _ in range(10):
        status, _ = await balance(ATTACKER, key, "guessed-wrong")
        assert status == "-1"
    locked = (
        "-15",
        "Query too frequently: 10 failed Sign checks for this Api-Key from 203.0.113.5 "
        "within 60 s; refused for 300 s more",
    )
    assert await balance(ATTACKER, key, "guessed-wrong") == locked
    assert await balance(ATTACKER, key, secret) == locked  # not even checked
    # the key from another address, and another key from that address, are served
    assert (await balance(OFFICE, key, secret))[0] == "0"
    other = other_tenant.creds
    assert (await balance(ATTACKER, other.api_key, other.api_secret))[0] == "0"
    clock.advance(299.5)
    assert await balance(ATTACKER, key, secret) == (
        "-15",
        "Query too frequently: 10 failed Sign checks for this Api-Key from 203.0.113.5 "
        "within 60 s; refused for 1 s more",
    )
    clock.advance(0.5)
    assert (await balance(ATTACKER, key, secret))[0] == "0"
    # a clean slate: nine more failures do not lock it again
    for _ in range(9):
        assert (await balance(ATTACKER, key, "guessed-wrong"))[0] == "-1"
    assert (await balance(ATTACKER, key, secret))[0] == "0"


async def test_only_failures_within_the_window_and_since_the_last_success_count(
    balance: Balance, tenant: Tenant, clock: FixedClock
) -> None:
    key, secret = tenant.creds.api_key, tenant.creds.api_secret
    for _ in range(9):
        assert (await balance(ATTACKER, key, "wrong"))[0] == "-1"
    clock.advance(60)  # those nine are now older than the window
    for _ in range(9):
        assert (await balance(ATTACKER, key, "wrong"))[0] == "-1"
    assert (await balance(ATTACKER, key, secret))[0] == "0"  # and a success forgets these nine
    for _ in range(9):
        assert (await balance(ATTACKER, key, "wrong"))[0] == "-1"
    assert (await balance(ATTACKER, key, secret))[0] == "0"
    assert (await balance(ATTACKER, key, "wrong"))[0] == "-1"
    assert (await balance(ATTACKER, key, "wrong"))[0] == "-1"


async def test_unknown_keys_count_too_and_requests_missing_a_header_do_not(
    balance: Balance, tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock
) -> None:
    for _ in range(10):
        assert (await balance(ATTACKER, "no-such-key", "x"))[0] == "-1"
    assert (await balance(ATTACKER, "no-such-key", "x"))[0] == "-15"
    ts = str(int(clock.now().timestamp()))
    for _ in range(15):  # no Sign header: never a Sign check
        resp = await http.get(
            "/v3/getBalance", headers={"Api-Key": tenant.creds.api_key, "Timestamp": ts}
        )
        assert resp.json()["status"] == "-1"
    creds = tenant.creds
    assert (await balance("127.0.0.1", creds.api_key, creds.api_secret))[0] == "0"


async def test_the_limits_are_configurable_and_0_turns_the_lock_out_off(
    rt: Runtime, tenant: Tenant, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXCAST_SIGN_FAILURES", "3")
    monkeypatch.setenv("VOXCAST_SIGN_FAILURE_WINDOW_SECONDS", "5")
    monkeypatch.setenv("VOXCAST_SIGN_LOCKOUT_SECONDS", "20")
    read = Settings()
    assert (read.sign_failures, read.sign_failure_window_seconds) == (3, 5.0)
    assert read.sign_lockout_seconds == 20.0
    key = tenant.creds.api_key
    ts = int(clock.now().timestamp())
    for failures, answers in ((3, ["-1"] * 3 + ["-15"] * 2), (0, ["-1"] * 5)):
        rt.settings.sign_failures = failures
        rt.settings.sign_lockout_seconds = 20
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(rt), client=(ATTACKER, 1)),
            base_url="http://voxcast.test",
        ) as client:
            got = [
                (await client.get("/v3/getBalance", headers=signed_headers(key, "bad", ts))).json()[
                    "status"
                ]
                for _ in range(5)
            ]
        assert got == answers
