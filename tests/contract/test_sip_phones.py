"""SIP phones (`voice/sipAdd`, `sipQuery`, `sipReset`) and the file list (`voice/fileQuery`)
against api-catalog-aivoice-sip §C.1-C.3, §C.7: exact success shapes, every code each page lists
(0, -1, -2, -16, -18, -20, -22, -23, -24), -32 for an appId not the caller's, tenant isolation,
and a phone being a call-center agent (one model, two APIs)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.client import Envelope
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents
from voxcast.storage.models import Account, App

PASSWORD = re.compile(r"[A-Za-z0-9]{8}")


def assert_code(env: Envelope, code: str, *words: str) -> None:
    assert env.code == code, (env.code, env.reason)
    assert set(env.raw) == {"status", "reason", "data"}
    if code != "0":
        assert env.raw["data"] is None
    for word in words:
        assert word in env.reason, env.reason


async def add_phones(
    tenant: Tenant, group: str = "sipGroup", phone: str = "desk", quantity: int = 3, **more: Any
) -> None:
    env = await tenant.client.sip_add(tenant.app_id, group, phone, quantity, **more)
    assert env.raw == {"status": "0", "reason": "success", "data": None}, env.reason


async def phones_of(tenant: Tenant) -> list[dict[str, Any]]:
    env = await tenant.client.sip_query(tenant.app_id, size=100)
    assert env.code == "0", env.reason
    records: list[dict[str, Any]] = env.data["records"]
    return records


# -- sipAdd / sipQuery: success ---------------------------------------------------------------


async def test_sip_add_creates_named_phones_that_sip_query_lists_with_passwords(
    tenant: Tenant,
) -> None:
    await add_phones(tenant, "sipGroup", "desk", 3, display_num="861000000")
    env = await tenant.client.sip_query(tenant.app_id, current=1, size=10)
    assert env.raw["status"] == "0" and env.raw["reason"] == "success"
    page = env.data
    passwords = [r.pop("password") for r in page["records"]]
    assert page == {
        "total": 3,
        "size": 10,
        "current": 1,
        "pages": 1,
        "records": [
            {
                "groupName": "sipGroup",
                "phoneName": f"desk-{i}",
                "account": f"{tenant.app_id}_00{i}",
                "displayNum": "861000000",
            }
            for i in (1, 2, 3)
        ],
    }
    assert all(PASSWORD.fullmatch(p) for p in passwords), passwords
    assert len(set(passwords)) == 3


async def test_sip_add_without_display_num_or_with_an_empty_one_leaves_it_null(
    tenant: Tenant,
) -> None:
    await add_phones(tenant, "group-a", "aaaa", 1)
    await add_phones(tenant, "group-b", "bbbb", 1, display_num="")
    assert [(r["phoneName"], r["displayNum"]) for r in await phones_of(tenant)] == [
        ("aaaa-1", None),
        ("bbbb-1", None),
    ]


async def test_the_sdk_sample_values_are_accepted_and_numbers_as_strings_too(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock
) -> None:
    """The SDK test's body, with `quantity` and `displayNum` given as a string and a number
    (the vendor's Java backend converts both ways) and `/` escaped as `\\/`."""
    body = (
        '{"groupName":"sip\\/Group","phoneName":"sip1","quantity":"2",'
        f'"displayNum":7777777,"appId":"{tenant.app_id}"}}'
    )
    resp = await post_raw(http, tenant, clock, "/v3/voice/sipAdd", body)
    assert resp.json() == {"status": "0", "reason": "success", "data": None}
    rows = await phones_of(tenant)
    assert [(r["groupName"], r["phoneName"], r["displayNum"]) for r in rows] == [
        ("sip/Group", "sip1-1", "7777777"),
        ("sip/Group", "sip1-2", "7777777"),
    ]


async def test_phones_are_call_center_agents_and_agents_are_listed_as_phones(
    tenant: Tenant,
) -> None:
    """One model: an agent made with addSeatList takes the next account number and shows in
    sipQuery; the phone group is an agent group with the phones counted in it."""
    made = await tenant.client.add_seat_group(tenant.app_id, "agents-team")
    assert made.code == "0"
    groups = await tenant.client.query_seat_groups()
    [agent_group] = groups.data["records"]
    seats = await tenant.client.add_seats(voiceGroupId=agent_group["voiceGroupId"], size=1)
    [agent] = seats.data
    await add_phones(tenant, "phone-team", "desk", 2)
    rows = await phones_of(tenant)
    assert [(r["groupName"], r["phoneName"], r["account"]) for r in rows] == [
        ("agents-team", None, f"{tenant.app_id}_001"),
        ("phone-team", "desk-1", f"{tenant.app_id}_002"),
        ("phone-team", "desk-2", f"{tenant.app_id}_003"),
    ]
    assert rows[0]["password"] == agent["sipPassword"]
    counts = {
        r["groupName"]: r["countSeat"]
        for r in (await tenant.client.query_seat_groups()).data["records"]
    }
    assert counts == {"agents-team": 1, "phone-team": 2}


async def test_sip_query_pages_oldest_first_and_null_paging_means_the_defaults(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock
) -> None:
    await add_phones(tenant, "sipGroup", "desk", 3)
    env = await tenant.client.sip_query(tenant.app_id, current=2, size=2)
    page = env.data
    assert (page["total"], page["size"], page["current"], page["pages"]) == (3, 2, 2, 2)
    assert [r["phoneName"] for r in page["records"]] == ["desk-3"]
    beyond = await tenant.client.sip_query(tenant.app_id, current=3, size=2)
    assert (beyond.data["total"], beyond.data["records"]) == (3, [])
    body = f'{{"current":null,"size":null,"params":{{"appId":"{tenant.app_id}"}}}}'
    resp = (await post_raw(http, tenant, clock, "/voice/sipQuery", body)).json()
    assert resp["status"] == "0"
    assert (resp["data"]["current"], resp["data"]["size"], resp["data"]["total"]) == (1, 25, 3)


async def test_the_phone_family_is_served_with_and_without_v3(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock
) -> None:
    body = f'{{"groupName":"plain","phoneName":"plain","quantity":1,"appId":"{tenant.app_id}"}}'
    assert (await post_raw(http, tenant, clock, "/voice/sipAdd", body)).json()["status"] == "0"
    query = f'{{"current":1,"size":5,"params":{{"appId":"{tenant.app_id}"}}}}'
    for path in ("/voice/sipQuery", "/v3/voice/sipQuery"):
        resp = (await post_raw(http, tenant, clock, path, query)).json()
        assert resp["data"]["total"] == 1, path


# -- sipAdd: errors -----------------------------------------------------------------------------


async def test_a_group_name_used_in_the_app_is_minus_20_whatever_its_case(
    tenant: Tenant,
) -> None:
    await add_phones(tenant, "sipGroup", "desk", 1)
    env = await tenant.client.sip_add(tenant.app_id, "SIPGROUP", "other", 1)
    assert_code(env, "-20", "groupName")
    made = await tenant.client.add_seat_group(tenant.app_id, "agent-team")
    assert made.code == "0"
    assert_code(await tenant.client.sip_add(tenant.app_id, "agent-team", "other", 1), "-20")
    assert len(await phones_of(tenant)) == 1


async def test_a_phone_name_used_in_the_app_is_minus_20_and_nothing_is_created(
    tenant: Tenant,
) -> None:
    await add_phones(tenant, "first-group", "Desk", 2)
    env = await tenant.client.sip_add(tenant.app_id, "second-group", "desk", 1)
    assert_code(env, "-20", "phoneName")
    groups = await tenant.client.query_seat_groups()
    assert [g["groupName"] for g in groups.data["records"]] == ["first-group"]
    # a name that only starts like an existing one is another name
    await add_phones(tenant, "third-group", "Desk-1x", 1)
    assert [r["phoneName"] for r in await phones_of(tenant)] == ["Desk-1", "Desk-2", "Desk-1x-1"]


async def test_more_phones_than_the_account_may_have_is_minus_23(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.id == tenant.creds.account_id).values(max_seats=3)
        )
    await add_phones(tenant, "group-one", "desk", 2)
    env = await tenant.client.sip_add(tenant.app_id, "group-two", "phone", 2)
    assert_code(env, "-23", "quantity")
    groups = await tenant.client.query_seat_groups()
    assert [g["groupName"] for g in groups.data["records"]] == ["group-one"]
    await add_phones(tenant, "group-two", "phone", 1)  # exactly the quota
    assert len(await phones_of(tenant)) == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"groupName": "abc"}, "groupName"),
        ({"groupName": "g" * 33}, "groupName"),
        ({"groupName": None}, "groupName"),
        ({"groupName": "bad\u0000name"}, "groupName"),
        ({"phoneName": "sip"}, "phoneName"),  # the vendor's own sample, under 4 characters
        ({"phoneName": "p" * 33}, "phoneName"),
        ({"phoneName": None}, "phoneName"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 51}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"displayNum": "123456"}, "displayNum"),
        ({"displayNum": "12345678901234"}, "displayNum"),
        ({"displayNum": "+861000000"}, "displayNum"),
        ({"displayNum": "86100000a"}, "displayNum"),
        ({"appId": None}, "appId"),
        ({"appId": ""}, "appId"),
    ],
)
async def test_sip_add_field_errors_are_minus_22_naming_the_field(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, changes: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "groupName": "sipGroup",
        "phoneName": "desk",
        "quantity": 1,
        "displayNum": "861000000",
        "appId": tenant.app_id,
    }
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    resp = await post_raw(http, tenant, clock, "/v3/voice/sipAdd", json.dumps(body))
    out = resp.json()
    assert (resp.status_code, out["status"], out["data"]) == (200, "-22", None)
    assert out["reason"].startswith(f"Parameter exception: {field}:"), out["reason"]
    assert await phones_of(tenant) == []


async def test_the_sdk_samples_three_letter_phone_name_is_refused_in_plain_words(
    tenant: Tenant,
) -> None:
    env = await tenant.client.sip_add(tenant.app_id, "sipGroup", "sip", 1, "7777777")
    assert env.reason == (
        "Parameter exception: phoneName: String should have at least 4 characters"
    )


async def test_the_limits_themselves_are_accepted(tenant: Tenant) -> None:
    await add_phones(tenant, "g" * 32, "p" * 32, 50, display_num="1" * 13)
    await add_phones(tenant, "gggg", "pppp", 1, display_num="1234567")
    rows = await phones_of(tenant)
    assert len(rows) == 51
    assert (rows[49]["phoneName"], rows[49]["account"]) == (
        "p" * 32 + "-50",
        f"{tenant.app_id}_050",
    )


# -- sipReset ---------------------------------------------------------------------------------


async def test_sip_reset_returns_a_new_password_that_sip_query_and_the_registrar_see(
    tenant: Tenant, rt: Runtime
) -> None:
    await add_phones(tenant, "sipGroup", "desk", 2)
    before = await phones_of(tenant)
    account = before[0]["account"]
    env = await tenant.client.sip_reset(tenant.app_id, account)
    assert_code(env, "0")
    assert set(env.data) == {"account", "password"} and env.data["account"] == account
    new = env.data["password"]
    assert PASSWORD.fullmatch(new) and new != before[0]["password"]
    after = await phones_of(tenant)
    assert after[0]["password"] == new
    assert after[1] == before[1]  # the other phone keeps its password
    async with rt.sessions() as session:
        assert await agents.agent_password(session, rt.secrets, account) == new


async def test_sip_reset_of_an_unknown_account_is_minus_24(tenant: Tenant) -> None:
    await add_phones(tenant, "sipGroup", "desk", 1)
    env = await tenant.client.sip_reset(tenant.app_id, f"{tenant.app_id}_999")
    assert_code(env, "-24", "account")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account": "abc"}, "account"),
        ({"account": "a" * 33}, "account"),
        ({}, "account"),
        ({"account": "test_001", "appId": None}, "appId"),
    ],
)
async def test_sip_reset_field_errors_are_minus_22(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, body: dict[str, Any], field: str
) -> None:
    payload = {"appId": tenant.app_id, **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    resp = await post_raw(http, tenant, clock, "/v3/voice/sipReset", json.dumps(payload))
    out = resp.json()
    assert (out["status"], out["data"]) == ("-22", None)
    assert out["reason"].startswith(f"Parameter exception: {field}:"), out["reason"]


# -- sipQuery: errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current": 1, "size": 10}, "params.appId"),
        ({"current": 1, "size": 10, "params": None}, "params.appId"),
        ({"current": 1, "size": 10, "params": {}}, "params.appId"),
        ({"current": 0, "size": 10, "params": {"appId": "x"}}, "current"),
        ({"current": 1, "size": 0, "params": {"appId": "x"}}, "size"),
        ({"current": 1, "size": 101, "params": {"appId": "x"}}, "size"),
    ],
)
async def test_sip_query_field_errors_are_minus_22(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, body: dict[str, Any], field: str
) -> None:
    resp = await post_raw(http, tenant, clock, "/v3/voice/sipQuery", json.dumps(body))
    out = resp.json()
    assert (out["status"], out["data"]) == ("-22", None)
    assert out["reason"].startswith(f"Parameter exception: {field}:"), out["reason"]


# -- tenant isolation ---------------------------------------------------------------------------


async def test_another_accounts_app_and_phones_are_out_of_reach(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await add_phones(other_tenant, "theirGroup", "their", 1)
    [theirs] = await phones_of(other_tenant)
    add = await tenant.client.sip_add(other_tenant.app_id, "mineGroup", "mine", 1)
    assert_code(add, "-32", "appId")
    query = await tenant.client.sip_query(other_tenant.app_id)
    assert_code(query, "-32", "appId")
    reset_theirs = await tenant.client.sip_reset(tenant.app_id, theirs["account"])
    assert_code(reset_theirs, "-24", "account")
    reset_via_their_app = await tenant.client.sip_reset(other_tenant.app_id, theirs["account"])
    assert_code(reset_via_their_app, "-32", "appId")
    assert_code(await tenant.client.sip_add(tenant.app_id, "theirGroup", "their", 1), "0")
    assert [r["account"] for r in await phones_of(tenant)] == [f"{tenant.app_id}_001"]
    assert await phones_of(other_tenant) == [theirs]  # password unchanged


async def test_a_second_app_of_the_account_has_its_own_phones(tenant: Tenant, rt: Runtime) -> None:
    second = "secondApp1"
    async with rt.sessions.begin() as session:
        session.add(
            App(
                app_id=second,
                account_id=tenant.creds.account_id,
                name="second",
                created_at=rt.clock.now(),
            )
        )
    await add_phones(tenant, "sipGroup", "desk", 1)
    env = await tenant.client.sip_add(second, "sipGroup", "desk", 1)  # names are per app
    assert_code(env, "0")
    mine = await phones_of(tenant)
    assert [r["account"] for r in mine] == [f"{tenant.app_id}_001"]
    other = await tenant.client.sip_query(second)
    assert [r["account"] for r in other.data["records"]] == [f"{second}_001"]
    # a phone of the first app cannot be reset through the second
    assert_code(await tenant.client.sip_reset(second, mine[0]["account"]), "-24")


# -- fileQuery --------------------------------------------------------------------------------


async def upload(tenant: Tenant, name: str) -> str:
    env = await tenant.client.upload_file(name, audio_b64("wav", 0.3))
    assert env.code == "0", env.reason
    file_id: str = env.data
    return file_id


async def test_file_query_lists_the_accounts_files_newest_first_in_pages(
    tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    first = await upload(tenant, "first.wav")
    clock.advance(60)
    second = await upload(tenant, "second.wav")
    clock.advance(60)
    third = await upload(tenant, "third.wav")
    await upload(other_tenant, "theirs.wav")
    env = await tenant.client.query_files(current=1, size=2)
    assert env.raw == {
        "status": "0",
        "reason": "success",
        "data": {
            "total": 3,
            "size": 2,
            "current": 1,
            "pages": 2,
            "records": [
                {"fileId": third, "fileName": "third.wav"},
                {"fileId": second, "fileName": "second.wav"},
            ],
        },
    }
    last = await tenant.client.query_files(current=2, size=2)
    assert last.data["records"] == [{"fileId": first, "fileName": "first.wav"}]
    theirs = await other_tenant.client.query_files()
    assert [r["fileName"] for r in theirs.data["records"]] == ["theirs.wav"]


@pytest.mark.parametrize(
    "body",
    [
        '{"current":1,"size":25,"params":null}',  # the vendor's Java SDK
        '{"params":null,"size":null,"current":null}',  # the SDK with nothing set
        "{}",
        '{"current":"1","size":"25","params":{"appId":"ignored"}}',
    ],
)
async def test_file_query_tolerates_the_sdks_nulls_and_defaults_to_1_and_25(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, body: str
) -> None:
    file_id = await upload(tenant, "hello.wav")
    resp = await post_raw(http, tenant, clock, "/voice/fileQuery", body)
    assert resp.json() == {
        "status": "0",
        "reason": "success",
        "data": {
            "total": 1,
            "size": 25,
            "current": 1,
            "pages": 1,
            "records": [{"fileId": file_id, "fileName": "hello.wav"}],
        },
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"current":0,"size":10}', "current"),
        ('{"current":1,"size":0}', "size"),
        ('{"current":1,"size":101}', "size"),
        ('{"current":"one","size":10}', "current"),
        ('{"current":1,"size":10,"params":"x"}', "params"),
    ],
)
async def test_file_query_field_errors_are_minus_22(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, body: str, field: str
) -> None:
    out = (await post_raw(http, tenant, clock, "/v3/voice/fileQuery", body)).json()
    assert (out["status"], out["data"]) == ("-22", None)
    assert out["reason"].startswith(f"Parameter exception: {field}:"), out["reason"]


# -- auth and body codes, every endpoint of the family ----------------------------------------

ENDPOINTS = ["/v3/voice/sipAdd", "/v3/voice/sipQuery", "/v3/voice/sipReset", "/v3/voice/fileQuery"]


def valid_body(path: str, app_id: str) -> str:
    return {
        "/v3/voice/sipAdd": json.dumps(
            {"groupName": "sipGroup", "phoneName": "desk", "quantity": 1, "appId": app_id}
        ),
        "/v3/voice/sipQuery": json.dumps({"current": 1, "size": 10, "params": {"appId": app_id}}),
        "/v3/voice/sipReset": json.dumps({"account": f"{app_id}_001", "appId": app_id}),
        "/v3/voice/fileQuery": '{"current":1,"size":10}',
    }[path]


async def post_raw(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    path: str,
    body: str,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
) -> httpx.Response:
    ts = int(clock.now().timestamp()) if timestamp is None else timestamp
    headers = signed_headers(tenant.creds.api_key, secret or tenant.creds.api_secret, ts)
    resp = await http.post(path, content=body.encode(), headers=headers)
    assert resp.status_code == 200
    return resp


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_wrong_sign_is_minus_1_and_a_stale_timestamp_minus_16(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, path: str
) -> None:
    body = valid_body(path, tenant.app_id)
    wrong = (await post_raw(http, tenant, clock, path, body, secret="not-the-secret")).json()
    assert (wrong["status"], wrong["data"]) == ("-1", None)
    stale_ts = int(clock.now().timestamp()) - 3600
    stale = (await post_raw(http, tenant, clock, path, body, timestamp=stale_ts)).json()
    assert (stale["status"], stale["data"]) == ("-16", None)
    assert await phones_of(tenant) == []


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_caller_outside_the_ip_whitelist_is_minus_2(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, rt: Runtime, path: str
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "10.9.8.0/24")
    out = (await post_raw(http, tenant, clock, path, valid_body(path, tenant.app_id))).json()
    assert (out["status"], out["data"]) == ("-2", None)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", ["", "not json", '{"current":1,// a comment\n"size":2}'])
async def test_a_body_that_is_not_json_is_minus_18(
    tenant: Tenant, http: httpx.AsyncClient, clock: FixedClock, path: str, body: str
) -> None:
    out = (await post_raw(http, tenant, clock, path, body)).json()
    assert (out["status"], out["data"]) == ("-18", None)
