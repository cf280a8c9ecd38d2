"""getBalance against api-catalog §8: balance, gift and credit at the top level as strings
with six decimals, on every path clients use; codes 0, -1, -2, -13, -16."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import signed_headers
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Account

PATHS = ["/v3/getBalance", "/getBalance", "/sms/getBalance", "/v3/sms/getBalance"]


async def set_money(rt: Runtime, tenant: Tenant, balance: str, gift: str, credit: str) -> None:
    async with rt.sessions.begin() as session:
        account = await session.get(Account, tenant.creds.account_id)
        assert account is not None
        account.balance, account.gift, account.credit = (
            Decimal(balance),
            Decimal(gift),
            Decimal(credit),
        )


async def get(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    path: str = "/v3/getBalance",
    *,
    method: str = "GET",
    age: int = 0,
    secret: str | None = None,
) -> dict[str, Any]:
    ts = int(clock.now().timestamp()) - age
    headers = signed_headers(tenant.creds.api_key, secret or tenant.creds.api_secret, ts)
    resp = await http.request(method, path, headers=headers)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


# -- 0 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_balance_fields_sit_at_the_top_level_with_six_decimals_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock, path: str
) -> None:
    await set_money(rt, tenant, "99.99", "50", "0")
    assert await get(http, tenant, clock, path) == {
        "status": "0",
        "reason": "success",
        "balance": "99.990000",
        "gift": "50.000000",
        "credit": "0.000000",
    }


async def test_balance_keeps_all_six_stored_decimals_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    await set_money(rt, tenant, "12345678.123456", "0.000001", "250.5")
    body = await get(http, tenant, clock)
    assert (body["balance"], body["gift"], body["credit"]) == (
        "12345678.123456",
        "0.000001",
        "250.500000",
    )


async def test_overdrawn_balance_is_shown_negative_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    await set_money(rt, tenant, "-0.5", "0", "0")
    assert (await get(http, tenant, clock))["balance"] == "-0.500000"


async def test_balance_has_no_data_field_and_the_sdk_reads_it_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal("7"), relative=False)
    env = await tenant.client.get_balance()
    assert env.code == "0" and env.data is None and "data" not in env.raw
    assert env.raw["balance"] == "7.000000"


async def test_balance_by_post_and_with_an_appid_query_is_answered_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await get(http, tenant, clock, "/getBalance", method="POST")
    assert body["status"] == "0" and body["balance"] == "100.000000"
    body = await get(http, tenant, clock, f"/v3/getBalance?appid={tenant.app_id}")
    assert body["status"] == "0" and body["balance"] == "100.000000"


async def test_balance_is_per_account(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    await set_money(rt, other_tenant, "1.5", "0", "0")
    assert (await get(http, tenant, clock))["balance"] == "100.000000"
    assert (await get(http, other_tenant, clock))["balance"] == "1.500000"


# -- errors: the balance envelope, without balance fields --------------------------------------


async def test_balance_with_a_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await get(http, tenant, clock, secret="nope")
    assert body["status"] == "-1" and set(body) == {"status", "reason"}


async def test_balance_from_an_ip_outside_the_whitelist_is_rejected_with_minus_2(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "203.0.113.7")
    body = await get(http, tenant, clock, "/sms/getBalance")
    assert body["status"] == "-2" and "balance" not in body


async def test_balance_of_a_locked_account_is_rejected_with_minus_13(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    async with rt.sessions.begin() as session:
        account = await session.get(Account, tenant.creds.account_id)
        assert account is not None
        account.locked = True
    body = await get(http, tenant, clock)
    assert body == {"status": "-13", "reason": "User locked"}


@pytest.mark.parametrize("age", [301, -301])
async def test_balance_with_a_timestamp_out_of_skew_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, age: int
) -> None:
    body = await get(http, tenant, clock, "/getBalance", age=age)
    assert body["status"] == "-16" and "balance" not in body
