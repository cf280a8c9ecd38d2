"""`aivoice/dialogFlowList` and `channelList` (spec supplement B.1-B.2, codes A.5), voxcast's
script extension (dialogFlowAdd/Edit/Detail/Del) and the one id space with send/ai's scriptId,
through the real HTTP app on both databases."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contract.group_call_support import ai, raw
from tests.helpers import signed_headers
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import scripts, trunks

#: the headers the vendor's Java SDK adds to every request (supplement A.4)
SDK_HEADERS = {"origin": "java-sdk", "accept": "*/*", "connection": "Keep-Alive"}
NO_SCRIPT = "The AI speech template does not exist"


async def call(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, op: str, body: Any
) -> dict[str, Any]:
    return await raw(http, tenant, clock, "POST", f"/v3/AiVoice/{op}", body, **SDK_HEADERS)


async def add(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, document: Any | None = None
) -> int:
    body = {"appId": tenant.app_id, "script": document or scripts.example_document()}
    got = await call(http, tenant, clock, "dialogFlowAdd", body)
    assert got["status"] == "0", got
    return int(got["data"])


# -- dialogFlowList and channelList (B.1, B.2) ---------------------------------------------------


async def test_dialog_flow_list_of_a_new_account_is_empty_with_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await call(http, tenant, clock, "dialogFlowList", {"appId": tenant.app_id})
    assert got == {"status": "0", "reason": "success", "data": []}


async def test_an_added_script_is_listed_with_the_b1_fields(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    got = await call(http, tenant, clock, "dialogFlowList", {"appId": tenant.app_id})
    assert got["data"] == [
        {
            "dialogFlowId": script_id,
            "name": "Payment reminder",
            "status": "PUBLISHED",
            "createTime": "2026-03-02 09:00:00",
        }
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/aivoice/dialogFlowList",
        "/v3/aivoice/dialogFlowList",
        "/v3/AiVoice/dialogFlowList",
        "/V3/AIVOICE/DIALOGFLOWLIST",
        "/v3/aiVoice/dialogflowlist/",
    ],
)
async def test_every_spelling_of_the_path_is_served(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    got = await raw(http, tenant, clock, "POST", path, {"appId": tenant.app_id})
    assert got == {"status": "0", "reason": "success", "data": []}


async def test_the_sdk_body_with_escaped_slashes_and_nulls_is_accepted(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = '{"appId":"' + tenant.app_id + '","unused":null,"url":"http:\\/\\/x"}'
    got = await call(http, tenant, clock, "dialogFlowList", body)
    assert got["status"] == "0", got


async def test_channel_list_is_the_sandbox_line_without_a_trunk(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await call(http, tenant, clock, "channelList", {"appId": tenant.app_id})
    assert got == {
        "status": "0",
        "reason": "success",
        "data": [{"tenantPhoneNumberId": "1", "phoneNumber": "sandbox"}],
    }


async def test_channel_list_is_the_accounts_trunk_when_it_has_one(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        spec = trunks.TrunkSpec(name="carrier-a", host="127.0.0.1", port=5060)
        await trunks.add_trunk(session, rt.secrets, spec, clock.now(), replace=False)
        await trunks.use_trunk(session, tenant.creds.account_id, "carrier-a")
    got = await call(http, tenant, clock, "channelList", {"appId": tenant.app_id})
    assert got["data"] == [{"tenantPhoneNumberId": "1", "phoneNumber": "carrier-a"}]


# -- the A.5 codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dropped", "code", "reason"),
    [
        ("Sign", "-57", "Sign header is empty"),
        ("Timestamp", "-58", "Timestamp header is empty"),
        ("Api-Key", "-59", "Api-Key header is empty"),
    ],
)
async def test_an_empty_auth_header_is_its_own_code(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    dropped: str,
    code: str,
    reason: str,
) -> None:
    got = await raw(
        http, tenant, clock, "POST", "/v3/AiVoice/channelList", {"appId": "x"}, **{dropped: ""}
    )
    assert got == {"status": code, "reason": reason, "data": None}


async def test_a_wrong_sign_is_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await raw(
        http, tenant, clock, "POST", "/v3/AiVoice/dialogFlowList", {"appId": "x"}, Sign="0" * 32
    )
    assert got["status"] == "-1"
    assert got["reason"].startswith("Account authentication error: Sign does not match")


async def test_a_stale_timestamp_is_minus_4_not_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    stale = int(clock.now().timestamp()) - 3600
    headers = signed_headers(tenant.creds.api_key, tenant.creds.api_secret, stale)
    resp = await http.post("/v3/AiVoice/dialogFlowList", json={"appId": "x"}, headers=headers)
    got = resp.json()
    assert (resp.status_code, got["status"]) == (200, "-4")
    assert got["reason"].startswith("Timestamp expired: Timestamp is more than")


async def test_a_missing_app_id_is_minus_27_naming_the_field(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await call(http, tenant, clock, "dialogFlowList", {"appId": None})
    assert got == {
        "status": "-27",
        "reason": "Parameter validation error: appId: Input should be a valid string",
        "data": None,
    }
    got = await call(http, tenant, clock, "channelList", {})
    assert got["reason"] == "Parameter validation error: appId: is required"


async def test_another_accounts_app_is_minus_37(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    for op in ("dialogFlowList", "channelList"):
        got = await call(http, tenant, clock, op, {"appId": other_tenant.app_id})
        assert got == {
            "status": "-37",
            "reason": f"Application does not exist: appId {other_tenant.app_id}",
            "data": None,
        }


async def test_a_body_that_is_not_json_is_minus_5(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await call(http, tenant, clock, "dialogFlowList", "appId=x")
    assert got == {
        "status": "-5",
        "reason": "System exception: request body is not valid JSON",
        "data": None,
    }


# -- the script extension ------------------------------------------------------------------------


async def test_an_invalid_script_is_refused_naming_node_and_field(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    document = scripts.example_document()
    document["nodes"]["ask_date"]["noMatch"] = [{"type": "goto", "node": "nowhere"}]
    body = {"appId": tenant.app_id, "script": document}
    got = await call(http, tenant, clock, "dialogFlowAdd", body)
    assert got == {
        "status": "-27",
        "reason": "Parameter validation error: "
        'script.nodes.ask_date.noMatch[0].node: node "nowhere" does not exist',
        "data": None,
    }
    listed = await call(http, tenant, clock, "dialogFlowList", {"appId": tenant.app_id})
    assert listed["data"] == []


async def test_a_script_of_another_format_is_refused_naming_the_field(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    document = scripts.example_document() | {"formatVersion": 2}
    got = await call(
        http, tenant, clock, "dialogFlowAdd", {"appId": tenant.app_id, "script": document}
    )
    assert got["status"] == "-27"
    assert got["reason"] == "Parameter validation error: script.formatVersion: must be 1"


async def test_detail_returns_the_document_its_variables_and_revision(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    clock.advance(60)
    changed = scripts.example_document() | {"name": "Reminder v2"}
    body = {"appId": tenant.app_id, "dialogFlowId": script_id, "script": changed}
    edited = await call(http, tenant, clock, "dialogFlowEdit", body)
    assert edited == {"status": "0", "reason": "success", "data": None}
    ref = {"appId": tenant.app_id, "dialogFlowId": script_id}
    got = (await call(http, tenant, clock, "dialogFlowDetail", ref))["data"]
    assert got["dialogFlowId"] == script_id and got["name"] == "Reminder v2"
    assert (got["revision"], got["createTime"], got["updateTime"]) == (
        2,
        "2026-03-02 09:00:00",
        "2026-03-02 09:01:00",
    )
    assert got["variables"] == ["amount", "dueDate", "name"]
    assert got["script"]["nodes"]["identify"]["prompt"] == {
        "text": "Hello, this is Example Energy. Am I speaking with ${name}?"
    }
    # the stored document reads back as the same script
    assert scripts.checked(got["script"]) == scripts.checked(changed)


async def test_an_edit_that_breaks_the_script_keeps_the_old_one(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    broken = copy.deepcopy(scripts.example_document())
    del broken["nodes"]["identify"]["prompt"]
    body = {"appId": tenant.app_id, "dialogFlowId": script_id, "script": broken}
    got = await call(http, tenant, clock, "dialogFlowEdit", body)
    assert got["reason"] == "Parameter validation error: script.nodes.identify.prompt: is missing"
    ref = {"appId": tenant.app_id, "dialogFlowId": script_id}
    detail = (await call(http, tenant, clock, "dialogFlowDetail", ref))["data"]
    assert detail["revision"] == 1 and "prompt" in detail["script"]["nodes"]["identify"]


async def test_delete_removes_the_script(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    ref = {"appId": tenant.app_id, "dialogFlowId": script_id}
    assert (await call(http, tenant, clock, "dialogFlowDel", ref))["status"] == "0"
    assert (await call(http, tenant, clock, "dialogFlowList", {"appId": tenant.app_id}))[
        "data"
    ] == []
    again = await call(http, tenant, clock, "dialogFlowDetail", ref)
    assert again == {
        "status": "-60",
        "reason": f"{NO_SCRIPT}: dialogFlowId: {script_id} does not exist",
        "data": None,
    }


async def test_a_script_an_unfinished_task_uses_cannot_be_deleted(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    sent = await tenant.client.send_group_call_ai(**ai(tenant, scriptId=script_id))
    assert sent.code == "0", sent.reason
    ref = {"appId": tenant.app_id, "dialogFlowId": script_id}
    got = await call(http, tenant, clock, "dialogFlowDel", ref)
    assert got["reason"] == (
        f"Parameter validation error: dialogFlowId: {script_id} is used by unfinished task "
        f"{sent.data}"
    )
    assert got["status"] == "-27"


@pytest.mark.parametrize("op", ["dialogFlowDetail", "dialogFlowEdit", "dialogFlowDel"])
async def test_another_accounts_script_is_minus_60_as_if_it_did_not_exist(
    http: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    clock: FixedClock,
    op: str,
) -> None:
    script_id = await add(http, tenant, clock)
    body = {
        "appId": other_tenant.app_id,
        "dialogFlowId": script_id,
        "script": scripts.example_document(),
    }
    got = await call(http, other_tenant, clock, op, body)
    assert got == {
        "status": "-60",
        "reason": f"{NO_SCRIPT}: dialogFlowId: {script_id} does not exist",
        "data": None,
    }
    listed = await call(http, other_tenant, clock, "dialogFlowList", {"appId": other_tenant.app_id})
    assert listed["data"] == []
    mine = await call(
        http, tenant, clock, "dialogFlowDetail", {"appId": tenant.app_id, "dialogFlowId": script_id}
    )
    assert mine["data"]["revision"] == 1


# -- one id space with send/ai -------------------------------------------------------------------


async def test_send_ai_takes_a_dialog_flow_id_as_its_script_id(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    sent = await tenant.client.send_group_call_ai(**ai(tenant, scriptId=script_id))
    assert sent.raw == {"code": "0", "msg": "success", "data": sent.data}
    detail = await tenant.client.group_call_detail(sent.data)
    assert detail.data["scriptId"] == script_id


async def test_send_ai_with_an_unknown_script_id_is_minus_60(tenant: Tenant) -> None:
    sent = await tenant.client.send_group_call_ai(**ai(tenant, scriptId=4242))
    assert sent.raw == {
        "code": "-60",
        "msg": "The AI speech template does not exist: scriptId: 4242 does not exist",
        "data": None,
    }


async def test_send_ai_with_another_accounts_script_is_minus_60(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    theirs = await add(http, other_tenant, clock)
    sent = await tenant.client.send_group_call_ai(**ai(tenant, scriptId=theirs))
    assert (sent.code, sent.reason) == (
        "-60",
        f"The AI speech template does not exist: scriptId: {theirs} does not exist",
    )


async def test_update_ai_to_a_deleted_script_is_minus_60(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    kept = await add(http, tenant, clock)
    gone = await add(http, tenant, clock)
    sent = await tenant.client.send_group_call_ai(**ai(tenant, scriptId=kept))
    ref = {"appId": tenant.app_id, "dialogFlowId": gone}
    assert (await call(http, tenant, clock, "dialogFlowDel", ref))["status"] == "0"
    env = await tenant.client.update_group_call_ai(keyId=sent.data, taskName="ai 2", scriptId=gone)
    assert (env.code, env.reason) == (
        "-60",
        f"The AI speech template does not exist: scriptId: {gone} does not exist",
    )


def test_the_example_ships_as_valid_json() -> None:
    document = scripts.example_document()
    assert json.loads(json.dumps(document)) == document
    assert scripts.checked(document).name == "Payment reminder"
