"""`/cc/seat/createSdkAuthentication` against api-catalog §5.2: the browser softphone's
credential, one valid per agent (a new one replaces the old), kept hashed, valid `expires`
(60-28800) seconds; codes 0, -22 naming `expires`/`account`, -24, tenant isolation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Tenant
from tests.contract.test_callcenter_agents import assert_code, new_group, new_seats
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent


async def owner_of(rt: Runtime, token: str) -> str | None:
    async with rt.sessions() as session:
        agent = await agents.agent_of_token(session, token, rt.clock.now())
        return agent.name if agent is not None else None


async def one_agent(tenant: Tenant) -> dict[str, Any]:
    [seat] = await new_seats(tenant, await new_group(tenant), size=1)
    return seat


async def test_a_credential_in_the_vendors_shape_code_0(tenant: Tenant, rt: Runtime) -> None:
    seat = await one_agent(tenant)
    env = await tenant.client.create_sdk_authentication(seat["name"], 3600)
    assert_code(env, "0")
    assert list(env.data) == ["authentication"]
    token = env.data["authentication"]
    # "Bearer SDNVerRWZp:0705C245_001:0ecc5e73-..."
    pattern = rf"Bearer [A-Za-z0-9_-]{{10}}:{re.escape(seat['name'])}:[0-9a-f-]{{36}}"
    assert re.fullmatch(pattern, token), token
    assert await owner_of(rt, token) == seat["name"]
    assert await owner_of(rt, token.removeprefix("Bearer ")) == seat["name"]


async def test_only_the_hash_is_stored(tenant: Tenant, rt: Runtime) -> None:
    seat = await one_agent(tenant)
    token = (await tenant.client.create_sdk_authentication(seat["name"], 60)).data["authentication"]
    async with rt.sessions() as session:
        row = (await session.execute(select(Agent).where(Agent.id == seat["keyId"]))).scalar_one()
    assert row.sdk_token_hash is not None and len(row.sdk_token_hash) == 64
    secret = token.rsplit(":", 1)[1]
    assert secret not in row.sdk_token_hash and token not in row.sdk_token_hash


async def test_a_new_credential_replaces_the_old(tenant: Tenant, rt: Runtime) -> None:
    seat = await one_agent(tenant)
    first = (await tenant.client.create_sdk_authentication(seat["name"], 3600)).data
    second = (await tenant.client.create_sdk_authentication(seat["name"], 3600)).data
    assert first["authentication"] != second["authentication"]
    assert await owner_of(rt, first["authentication"]) is None
    assert await owner_of(rt, second["authentication"]) == seat["name"]


async def test_a_credential_expires_after_its_seconds(
    tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    seat = await one_agent(tenant)
    token = (await tenant.client.create_sdk_authentication(seat["name"], 60)).data["authentication"]
    clock.advance(59)
    assert await owner_of(rt, token) == seat["name"]
    clock.advance(1)
    assert await owner_of(rt, token) is None


async def test_forged_or_garbled_credentials_are_refused(tenant: Tenant, rt: Runtime) -> None:
    seat = await one_agent(tenant)
    token = (await tenant.client.create_sdk_authentication(seat["name"], 600)).data[
        "authentication"
    ]
    prefix, name, secret = token.removeprefix("Bearer ").split(":")
    forged = f"{prefix}:{name}:{secret[:-1]}{'0' if secret[-1] != '0' else '1'}"
    for bad in (forged, "", "Bearer ", f"{prefix}:{secret}", f"{prefix}::{secret}"):
        assert await owner_of(rt, bad) is None, bad


async def test_a_disabled_agents_credential_is_refused(tenant: Tenant, rt: Runtime) -> None:
    seat = await one_agent(tenant)
    token = (await tenant.client.create_sdk_authentication(seat["name"], 600)).data[
        "authentication"
    ]
    async with rt.sessions.begin() as session:
        row = await session.get(Agent, seat["keyId"])
        assert row is not None
        row.enable = False
    assert await owner_of(rt, token) is None


@pytest.mark.parametrize("expires", [59, 28801, 0, -1, "soon"])
async def test_expires_outside_60_to_28800_is_minus_22(tenant: Tenant, expires: object) -> None:
    seat = await one_agent(tenant)
    env = await tenant.client.create_sdk_authentication(seat["name"], expires)  # type: ignore[arg-type]
    assert_code(env, "-22", "expires")
    assert env.data is None


async def test_the_bounds_60_and_28800_are_accepted(tenant: Tenant) -> None:
    seat = await one_agent(tenant)
    for expires in (60, 28800):
        assert_code(await tenant.client.create_sdk_authentication(seat["name"], expires), "0")


async def test_a_missing_or_empty_account_is_minus_22(tenant: Tenant) -> None:
    assert_code(await tenant.client.create_sdk_authentication("", 3600), "-22", "account")
    env = await tenant.client._call("POST", "/v3/cc/seat/createSdkAuthentication", {"expires": 60})
    assert_code(env, "-22", "account")


async def test_an_unknown_account_is_minus_24(tenant: Tenant) -> None:
    env = await tenant.client.create_sdk_authentication(f"{tenant.app_id}_999", 3600)
    assert_code(env, "-24", "account", f"{tenant.app_id}_999")


async def test_another_tenants_agent_is_minus_24_and_keeps_its_credential(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    theirs = await one_agent(other_tenant)
    token = (await other_tenant.client.create_sdk_authentication(theirs["name"], 3600)).data[
        "authentication"
    ]
    env = await tenant.client.create_sdk_authentication(theirs["name"], 3600)
    assert_code(env, "-24", "account")
    assert await owner_of(rt, token) == theirs["name"]
