"""Inbound numbers (`/cc/number/*`, a voxcast extension for issue 11): add, query, delete,
their codes (-9 not a number, -20 taken, -24 no such group / number of yours) and isolation."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.contract.test_callcenter_agents import assert_code, new_group


async def test_add_query_delete_round_trip(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    assert_code(await tenant.client.add_inbound_number("+861088880000", group_id), "0")
    assert_code(await tenant.client.add_inbound_number("4001", group_id), "0")
    env = await tenant.client.query_inbound_numbers()
    assert_code(env, "0")
    assert env.data["total"] == 2
    assert env.data["records"] == [
        {
            "number": "+861088880000",
            "voiceGroupId": group_id,
            "groupName": "sales-team",
            "appId": tenant.app_id,
        },
        {
            "number": "4001",
            "voiceGroupId": group_id,
            "groupName": "sales-team",
            "appId": tenant.app_id,
        },
    ]
    assert_code(await tenant.client.delete_inbound_number("4001"), "0")
    env = await tenant.client.query_inbound_numbers()
    assert [r["number"] for r in env.data["records"]] == ["+861088880000"]


async def test_codes(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    assert_code(await tenant.client.add_inbound_number("40x1", group_id), "-9", "number")
    assert_code(await tenant.client.add_inbound_number("4001", 999999), "-24", "voiceGroupId")
    assert_code(await tenant.client.add_inbound_number("4001", group_id), "0")
    assert_code(await tenant.client.add_inbound_number("4001", group_id), "-20", "4001")
    assert_code(await tenant.client.delete_inbound_number("4002"), "-24", "4002")


async def test_numbers_of_another_account_are_out_of_reach(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    group_id = await new_group(tenant)
    assert_code(await tenant.client.add_inbound_number("4001", group_id), "0")
    # their group is not ours to route to, their number not ours to see or delete
    assert_code(await other_tenant.client.add_inbound_number("4002", group_id), "-24")
    assert (await other_tenant.client.query_inbound_numbers()).data["total"] == 0
    assert_code(await other_tenant.client.delete_inbound_number("4001"), "-24")
    assert (await tenant.client.query_inbound_numbers()).data["total"] == 1


async def test_deleting_the_group_removes_its_numbers(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    assert_code(await tenant.client.add_inbound_number("4001", group_id), "0")
    assert_code(await tenant.client.delete_seat_group(group_id), "0")
    assert (await tenant.client.query_inbound_numbers()).data["total"] == 0


@pytest.mark.parametrize("number", ["12\x00", "\u00e434", "123\n", "+", "1" * 20])
async def test_deleting_a_string_that_is_no_number_is_minus_9_not_a_crash(
    tenant: Tenant, number: str
) -> None:
    # schemathesis found NULs and the like reaching PostgreSQL (an incident, -18)
    assert_code(await tenant.client.delete_inbound_number(number), "-9", "number")
