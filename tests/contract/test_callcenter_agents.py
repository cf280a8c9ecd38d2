"""Agent groups (`/cc/seatGroup/*`) and agents (`/cc/seat/*`) against api-catalog §5.1-5.2 and
the call-center quick start (004): fields, envelopes, paging and every code a request can
trigger (0, -11, -20, -22, -24, -25, -32, -34, -36, -63, -65, -66), tenant isolation included."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Tenant
from voxcast.client import Envelope
from voxcast.runtime import Runtime
from voxcast.storage.models import Account

WINDOW = {"strTime": "2026-01-01 00:00:00", "endTime": "2026-01-31 00:00:00"}


async def new_group(tenant: Tenant, name: str = "sales-team") -> int:
    env = await tenant.client.add_seat_group(tenant.app_id, name)
    assert (env.code, env.data) == ("0", None), env.reason
    found = await tenant.client.query_seat_groups(group_name=name)
    [record] = [r for r in found.data["records"] if r["groupName"] == name]
    return int(record["voiceGroupId"])


async def new_seats(tenant: Tenant, group_id: int, size: int = 2) -> list[dict[str, Any]]:
    env = await tenant.client.add_seats(
        voiceGroupId=group_id, size=size, displayNum="1234", ccode="91"
    )
    assert env.code == "0", env.reason
    seats: list[dict[str, Any]] = env.data
    return seats


def assert_code(env: Envelope, code: str, *words: str) -> None:
    assert env.code == code, (env.code, env.reason)
    assert "status" in env.raw and "reason" in env.raw  # the {status, reason, data} family
    for word in words:
        assert word in env.reason, env.reason


# -- the quick start, step by step ----------------------------------------------------------


async def test_quick_start_group_then_agents_in_batches_code_0(tenant: Tenant) -> None:
    group_id = await new_group(tenant, "test-1")
    seats = await new_seats(tenant, group_id, size=2)
    assert [s["name"] for s in seats] == [f"{tenant.app_id}_001", f"{tenant.app_id}_002"]
    assert all(isinstance(s["keyId"], int) and len(s["sipPassword"]) == 16 for s in seats)
    more = await new_seats(tenant, group_id, size=1)
    assert more[0]["name"] == f"{tenant.app_id}_003"  # numbering continues
    groups = await tenant.client.query_seat_groups()
    assert groups.data["total"] == 1
    [row] = groups.data["records"]
    assert row == {
        "voiceGroupId": group_id,
        "callinStrategy": 4,
        "countSeat": 3,
        "groupName": "test-1",
        "appName": row["appName"],
    }


async def test_agents_are_listed_offline_with_their_group(tenant: Tenant, clock: Any) -> None:
    group_id = await new_group(tenant)
    await new_seats(tenant, group_id, size=3)
    window = {
        "strTime": clock.now().strftime("%Y-%m-%d 00:00:00"),
        "endTime": clock.now().strftime("%Y-%m-%d 23:59:59"),
    }
    env = await tenant.client.query_seats(size=2, **window, voiceGroupId=group_id)
    assert env.code == "0" and env.data["total"] == 3 and len(env.data["records"]) == 2
    seat = env.data["records"][0]
    assert seat["status"] == 1 and seat["enable"] == 1 and seat["priority"] == 1
    assert seat["groupName"] == "sales-team" and seat["voiceGroupId"] == group_id
    assert seat["appId"] == tenant.app_id and "sipPassword" not in seat
    named = await tenant.client.query_seats(**window, name="_002")
    assert [r["name"] for r in named.data["records"]] == [f"{tenant.app_id}_002"]
    busy = await tenant.client.query_seats(**window, status=3)
    assert busy.data["total"] == 0


async def test_update_seat_sets_job_number_name_and_password_code_0(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    other = await new_group(tenant, "support")
    [seat] = await new_seats(tenant, group_id, size=1)
    env = await tenant.client.update_seat(
        keyId=seat["keyId"],
        voiceGroupId=other,
        name=seat["name"],
        empNo="E100",
        petName="Ann",
        password="NewPass123",
    )
    assert_code(env, "0")
    groups = {
        r["groupName"]: r["countSeat"]
        for r in (await tenant.client.query_seat_groups()).data["records"]
    }
    assert groups == {"sales-team": 0, "support": 1}


async def test_update_seat_sets_the_priority_and_leaves_it_when_not_given(
    tenant: Tenant, clock: Any
) -> None:
    """voxcast extension: updateSeat takes the `priority` seat/query shows (callinStrategy 3
    offers a call to the lower number first)."""
    group_id = await new_group(tenant)
    [seat] = await new_seats(tenant, group_id, size=1)
    base = {"keyId": seat["keyId"], "voiceGroupId": group_id, "name": seat["name"]}
    assert_code(await tenant.client.update_seat(**base, empNo="E1", priority=5), "0")
    assert_code(await tenant.client.update_seat(**base, empNo="E2"), "0")
    window = {
        "strTime": clock.now().strftime("%Y-%m-%d 00:00:00"),
        "endTime": clock.now().strftime("%Y-%m-%d 23:59:59"),
    }
    [row] = (await tenant.client.query_seats(**window)).data["records"]
    assert (row["priority"], row["empNo"]) == (5, "E2")


async def test_basic_setting_round_trip_and_empty_clears(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    env = await tenant.client.set_seat_group(
        voiceGroupId=group_id,
        callinStrategy=1,
        wrapUpTime=15,
        timeoutWaitSec=30,
        labelName=["vip", "loans"],
        displaySwitch=0,
        encryptNumber=1,
        fsNode="SG_FS",
    )
    assert_code(env, "0")
    got = (await tenant.client.seat_group_settings(group_id)).data
    assert got["voiceGroupId"] == got["seatGroupId"] == group_id
    assert got["callinStrategy"] == 1 and got["wrapUpTime"] == 15
    assert got["labelName"] == ["vip", "loans"] and got["fsNode"] == "SG_FS"
    cleared = await tenant.client.set_seat_group(
        voiceGroupId=group_id, wrapUpTime="", displaySwitch=1, encryptNumber=0
    )
    assert_code(cleared, "0")
    got = (await tenant.client.seat_group_settings(group_id)).data
    assert got["wrapUpTime"] is None and got["timeoutWaitSec"] == 30  # cleared / kept
    assert got["displaySwitch"] == 1


async def test_rename_and_delete_an_empty_group_code_0(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    assert_code(await tenant.client.update_seat_group(group_id, "renamed"), "0")
    assert_code(await tenant.client.delete_seat_group(group_id), "0")
    assert (await tenant.client.query_seat_groups()).data["total"] == 0


# -- errors ---------------------------------------------------------------------------------


async def test_duplicate_group_name_in_the_app_is_minus_20(tenant: Tenant) -> None:
    await new_group(tenant, "dup-name")
    assert_code(await tenant.client.add_seat_group(tenant.app_id, "DUP-NAME"), "-20", "groupName")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("abc", "at least 4 characters"),
        ("x" * 33, "at most 32 characters"),
        ("", "at least 4 characters"),
    ],
)
async def test_group_name_outside_4_to_32_is_minus_22(
    tenant: Tenant, name: str, words: str
) -> None:
    env = await tenant.client.add_seat_group(tenant.app_id, name)
    assert_code(env, "-22", "groupName", words)


async def test_unknown_app_is_minus_32_and_another_accounts_group_is_minus_24(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    assert_code(await tenant.client.add_seat_group("nope1234", "group-x"), "-32", "appId")
    theirs_app = await tenant.client.add_seat_group(other_tenant.app_id, "group-y")
    assert_code(theirs_app, "-32", "appId")
    theirs = await new_group(other_tenant, "their-team")
    assert_code(await tenant.client.delete_seat_group(theirs), "-24", "voiceGroupId")
    assert_code(await tenant.client.update_seat_group(theirs, "mine-now"), "-24")
    assert_code(await tenant.client.seat_group_settings(theirs), "-24")
    env = await tenant.client.add_seats(voiceGroupId=theirs, size=1)
    assert_code(env, "-24")
    assert (await tenant.client.query_seat_groups()).data["total"] == 0


async def test_deleting_a_group_with_agents_is_minus_63(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    await new_seats(tenant, group_id, size=1)
    assert_code(await tenant.client.delete_seat_group(group_id), "-63", "agents")


async def test_more_agents_than_the_quota_is_minus_36(tenant: Tenant, rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.id == tenant.creds.account_id).values(max_seats=3)
        )
    group_id = await new_group(tenant)
    await new_seats(tenant, group_id, size=2)
    env = await tenant.client.add_seats(voiceGroupId=group_id, size=2)
    assert_code(env, "-36", "size")


async def test_unknown_country_code_is_minus_66(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    env = await tenant.client.add_seats(voiceGroupId=group_id, size=1, ccode="999")
    assert_code(env, "-66", "ccode")


async def test_duplicate_job_number_is_minus_34(tenant: Tenant) -> None:
    group_id = await new_group(tenant)
    one, two = await new_seats(tenant, group_id, size=2)
    ok = await tenant.client.update_seat(
        keyId=one["keyId"], voiceGroupId=group_id, name=one["name"], empNo="E1"
    )
    assert_code(ok, "0")
    env = await tenant.client.update_seat(
        keyId=two["keyId"], voiceGroupId=group_id, name=two["name"], empNo="E1"
    )
    assert_code(env, "-34", "empNo")


async def test_moving_an_agent_to_another_apps_group_is_minus_65(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    group_id = await new_group(tenant)
    [seat] = await new_seats(tenant, group_id, size=1)
    theirs = await new_group(other_tenant, "their-team")
    env = await tenant.client.update_seat(
        keyId=seat["keyId"], voiceGroupId=theirs, name=seat["name"], empNo="E9"
    )
    assert_code(env, "-65", "voiceGroupId")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "has space1"}, "password"),
        ({"password": "short"}, "password"),
        ({"empNo": ""}, "empNo"),
        ({"name": "someone_else"}, "name"),
        ({"priority": 0}, "priority"),
        ({"priority": 1000}, "priority"),
        ({"priority": "first"}, "priority"),
    ],
)
async def test_bad_update_seat_fields_are_minus_22(
    tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    group_id = await new_group(tenant)
    [seat] = await new_seats(tenant, group_id, size=1)
    body = {"keyId": seat["keyId"], "voiceGroupId": group_id, "name": seat["name"], "empNo": "E1"}
    body.update(fields)
    assert_code(await tenant.client.update_seat(**body), "-22", field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"size": 0}, "size"),
        ({"size": 1001}, "size"),
        ({"displayNum": "12ab"}, "displayNum"),
        ({"ccode": "+91"}, "ccode"),
    ],
)
async def test_bad_add_seat_fields_are_minus_22(
    tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    group_id = await new_group(tenant)
    body: dict[str, Any] = {"voiceGroupId": group_id, "size": 1}
    body.update(fields)
    assert_code(await tenant.client.add_seats(**body), "-22", field)


async def test_basic_setting_requires_the_switches_and_checks_values_minus_22(
    tenant: Tenant,
) -> None:
    group_id = await new_group(tenant)
    missing = await tenant.client.set_seat_group(voiceGroupId=group_id, encryptNumber=0)
    assert_code(missing, "-22", "displaySwitch")
    labels = await tenant.client.set_seat_group(
        voiceGroupId=group_id, displaySwitch=0, encryptNumber=0, labelName=["x"] * 11
    )
    assert_code(labels, "-22", "labelName")
    node = await tenant.client.set_seat_group(
        voiceGroupId=group_id, displaySwitch=0, encryptNumber=0, fsNode="EU_FS"
    )
    assert_code(node, "-22", "fsNode")


async def test_seat_query_needs_a_window_of_at_most_32_days(tenant: Tenant) -> None:
    assert_code(await tenant.client.query_seats(), "-22", "params")
    wide = await tenant.client.query_seats(
        strTime="2026-01-01 00:00:00", endTime="2026-03-01 00:00:00"
    )
    assert_code(wide, "-25", "32 days")
    bad = await tenant.client.query_seats(strTime="yesterday", endTime="2026-03-01 00:00:00")
    assert_code(bad, "-11", "strTime")


async def test_a_transfer_task_to_another_apps_group_is_minus_74(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await new_group(other_tenant, "their-team")
    env = await tenant.client.send_group_call(
        appId=tenant.app_id, taskName="to their agents", source=3, text="Hi", lan="EN",
        loopCount=1, maxCalls=60, numberList=["8613000000000"],
        toSeat=1, sipGroupId=theirs, outboundControl=1, calloutRate=1, toSeatType=1,
    )  # fmt: skip
    assert env.code == "-74" and "sipGroupId" in env.reason
    mine = await new_group(tenant, "my-team")
    env = await tenant.client.send_group_call(
        appId=tenant.app_id, taskName="to my agents", source=3, text="Hi", lan="EN",
        loopCount=1, maxCalls=60, numberList=["8613000000000"],
        toSeat=1, sipGroupId=mine, outboundControl=1, calloutRate=1, toSeatType=1,
    )  # fmt: skip
    assert env.code == "0", env.reason
