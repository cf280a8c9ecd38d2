"""sendCode and sendGroup against api-catalog §1.1/§1.2: every code a request can trigger
(0, -1, -2, -7, -8, -9, -10, -16, -18, -22, -24, -26, -32, -39) and what intake stores."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Tenant, make_tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.domain import ids
from voxcast.domain.enums import Source, TaskKind, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Callee, Task

#: the -32 reason of an appId that is not the caller's, before the appId
NO_APP = "API Key has no permission to access the current application: appId "

VOICE_ID = re.compile(r"^\d{19}$")

#: the sendCode sample of itniotech.cn (api-catalog §1.1), appId filled in per tenant
SAMPLE = {
    "callee": "932111111111",
    "displayNum": "1008122211",
    "language": "EN",
    "accent": "91",
    "ssmlGender": 2,
    "speakingRate": 1,
    "text": "hello world",
    "loopCount": 2,
    "calledInfo": "calledInfo",
    "recallCount": 0,
    "recallInterval": 0,
    "maxDuration": 120,
    "maxRingingTime": 60,
}


def code_body(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    """The sample with changes; a change to None drops the field."""
    body: dict[str, Any] = {**SAMPLE, "appId": tenant.app_id, **changes}
    return {k: v for k, v in body.items() if v is not None}


async def raw_post(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    path: str,
    *,
    json_body: Any = None,
    content: str | None = None,
    age: int = 0,
    secret: str | None = None,
) -> dict[str, Any]:
    ts = int(clock.now().timestamp()) - age
    headers = signed_headers(tenant.creds.api_key, secret or tenant.creds.api_secret, ts)
    if content is not None:
        resp = await http.post(path, content=content, headers=headers)
    else:
        resp = await http.post(path, json=json_body, headers=headers)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


async def stored_tasks(rt: Runtime, account_id: int) -> list[Task]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(Task).where(Task.account_id == account_id).order_by(Task.id)
        )
        return list(rows.all())


async def callees_of(rt: Runtime, task_id: int) -> list[Callee]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(Callee).where(Callee.task_id == task_id).order_by(Callee.seq)
        )
        return list(rows.all())


async def zero_balance(rt: Runtime, tenant: Tenant) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal(0), relative=False)


async def upload(tenant: Tenant, name: str = "notice.mp3") -> str:
    env = await tenant.client.upload_file(name, audio_b64("mp3", 0.5))
    assert env.code == "0", env.reason
    return str(env.data)


# -- sendCode: 0 ---------------------------------------------------------------------------


async def test_send_code_sample_is_accepted_with_code_0_and_a_voice_id(tenant: Tenant) -> None:
    env = await tenant.client.send_code(**code_body(tenant))
    assert env.raw == {"status": "0", "reason": "success", "data": env.data}
    assert isinstance(env.data, str) and VOICE_ID.match(env.data)


async def test_send_code_stores_a_waiting_code_task_with_one_callee_and_its_voice_id(
    tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    env = await tenant.client.send_code(
        **code_body(tenant, maxDuration=45, delayPlay=2, delayHangup=3, language="en")
    )
    assert env.code == "0", env.reason
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.kind == TaskKind.CODE and task.task_name is None
    assert task.status == TaskStatus.WAITING and task.source == Source.TTS
    assert (task.app_id, task.text, task.lan) == (tenant.app_id, "hello world", "EN")
    assert (task.loop_count, task.max_calls, task.max_ringing_time) == (2, 45, 60)
    assert (task.delay_play, task.delay_hangup, task.num_cnt) == (2, 3, 1)
    assert task.display_num == "1008122211"
    # the validated request, camelCase, as the dialer reads it
    assert task.params["callee"] == "932111111111"
    assert task.params["accent"] == "91" and task.params["ssmlGender"] == 2
    assert task.params["speakingRate"] == 1 and task.params["language"] == "EN"
    (callee,) = await callees_of(rt, task.id)
    assert callee.callee == "932111111111" and callee.state == 0
    assert callee.voice_id == env.data == ids.voice_id(clock.now(), callee.id)
    assert callee.info == {"calledInfo": "calledInfo"}


async def test_send_code_defaults_are_loop_1_ringing_60_talk_60_recall_interval_5(
    tenant: Tenant, rt: Runtime
) -> None:
    env = await tenant.client.send_code(
        callee="8613000000000", language="EN", text="code 1 2 3 4", appId=tenant.app_id
    )
    assert env.code == "0", env.reason
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert (task.loop_count, task.max_ringing_time, task.max_calls) == (1, 60, 60)
    assert (task.delay_play, task.delay_hangup, task.display_num) == (0, 0, None)
    assert task.params["recallCount"] == 0 and task.params["recallInterval"] == 5


async def test_send_code_recall_interval_0_of_the_sample_means_the_default_5(
    tenant: Tenant, rt: Runtime
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, recallInterval=0, recallCount=2))
    assert env.code == "0", env.reason
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.params["recallInterval"] == 5 and task.params["recallCount"] == 2


async def test_send_code_numeric_accent_and_callee_are_kept_as_strings(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    body = code_body(tenant, accent=91, callee=932111111111, displayNum=1008122211)
    resp = await raw_post(http, tenant, clock, "/voice/sendCode", json_body=body)
    assert resp["status"] == "0", resp["reason"]
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.params["accent"] == "91" and task.params["callee"] == "932111111111"


@pytest.mark.parametrize("display", ["", None])
async def test_send_code_empty_or_null_display_num_is_accepted_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime, display: Any
) -> None:
    body = {**code_body(tenant), "displayNum": display}
    resp = await raw_post(http, tenant, clock, "/v3/voice/sendCode", json_body=body)
    assert resp["status"] == "0", resp["reason"]
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.display_num is None


@pytest.mark.parametrize("path", ["/v3/voice/sendCode", "/voice/sendCode"])
async def test_send_code_is_served_with_and_without_v3_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    resp = await raw_post(http, tenant, clock, path, json_body=code_body(tenant))
    assert resp["status"] == "0" and VOICE_ID.match(resp["data"])


async def test_send_code_unknown_fields_are_ignored_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = {**code_body(tenant), "whatever": {"x": 1}, "taskName": "ignored"}
    resp = await raw_post(http, tenant, clock, "/v3/voice/sendCode", json_body=body)
    assert resp["status"] == "0", resp["reason"]


async def test_send_code_voice_ids_are_unique_per_send(tenant: Tenant) -> None:
    seen = {(await tenant.client.send_code(**code_body(tenant))).data for _ in range(5)}
    assert len(seen) == 5


# -- sendCode: -1, -2, -16, -18 -------------------------------------------------------------


async def test_send_code_with_a_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    resp = await raw_post(
        http, tenant, clock, "/v3/voice/sendCode", json_body=code_body(tenant), secret="nope"
    )
    assert resp["status"] == "-1"
    assert await stored_tasks(rt, tenant.creds.account_id) == []


async def test_send_code_from_an_ip_outside_the_whitelist_is_rejected_with_minus_2(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "10.9.9.9")
    env = await tenant.client.send_code(**code_body(tenant))
    assert env.code == "-2"
    assert await stored_tasks(rt, tenant.creds.account_id) == []


async def test_send_code_with_a_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    resp = await raw_post(
        http, tenant, clock, "/v3/voice/sendCode", json_body=code_body(tenant), age=3600
    )
    assert resp["status"] == "-16"


@pytest.mark.parametrize(
    "content", ["callee=932111111111&text=hi", "", "[1, 2", "// x\n{}"], ids=repr
)
async def test_send_code_body_that_is_not_json_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, content: str
) -> None:
    resp = await raw_post(http, tenant, clock, "/v3/voice/sendCode", content=content)
    assert resp["status"] == "-18" and resp["data"] is None


# -- sendCode: -22 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"callee": None}, "callee"),
        ({"callee": "93211111111a"}, "callee"),
        ({"callee": "+932111111111"}, "callee"),
        ({"callee": "932111"}, "callee"),
        ({"callee": "9321111111111111"}, "callee"),
        ({"displayNum": "100812"}, "displayNum"),
        ({"displayNum": "1008122211x"}, "displayNum"),
        ({"displayNum": "1" * 16}, "displayNum"),
        ({"speakingRate": 0.2}, "speakingRate"),
        ({"speakingRate": 4.5}, "speakingRate"),
        ({"ssmlGender": 0}, "ssmlGender"),
        ({"ssmlGender": 3}, "ssmlGender"),
        ({"text": "x" * 1001}, "text"),
        ({"appId": None}, "appId"),
        ({"loopCount": 0}, "loopCount"),
        ({"loopCount": 10}, "loopCount"),
        ({"calledInfo": "i" * 1001}, "calledInfo"),
        ({"recallCount": -1}, "recallCount"),
        ({"recallCount": 10}, "recallCount"),
        ({"recallInterval": 1000}, "recallInterval"),
        ({"maxDuration": 0}, "maxDuration"),
        ({"maxDuration": 121}, "maxDuration"),
        ({"maxRingingTime": 19}, "maxRingingTime"),
        ({"maxRingingTime": 121}, "maxRingingTime"),
        ({"delayPlay": -1}, "delayPlay"),
        ({"delayPlay": 1000}, "delayPlay"),
        ({"delayHangup": 1000}, "delayHangup"),
        ({"loopCount": "two"}, "loopCount"),
    ],
)
async def test_send_code_field_out_of_range_is_rejected_with_minus_22_naming_it(
    tenant: Tenant, rt: Runtime, changes: dict[str, Any], field: str
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, **changes))
    assert env.code == "-22", env.reason
    assert env.reason.startswith("Parameter exception: " + field), env.reason
    assert await stored_tasks(rt, tenant.creds.account_id) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"speakingRate": 0.25, "ssmlGender": 1, "loopCount": 9, "maxRingingTime": 20},
        {"speakingRate": 4, "maxDuration": 1, "maxRingingTime": 120, "delayPlay": 999},
        {"text": "x" * 1000, "calledInfo": "i" * 1000, "recallCount": 9, "recallInterval": 999},
        {"callee": "1234567", "displayNum": "1" * 15, "delayHangup": 0, "recallInterval": 1},
    ],
)
async def test_send_code_boundary_values_are_accepted_with_code_0(
    tenant: Tenant, changes: dict[str, Any]
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, **changes))
    assert env.code == "0", env.reason


# -- sendCode: -32, -22, -39, -26, -10 --------------------------------------------------------


async def test_send_code_with_another_tenants_app_is_rejected_with_minus_32(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, appId=other_tenant.app_id))
    assert env.raw == {
        "status": "-32",
        "reason": f"{NO_APP}{other_tenant.app_id}",
        "data": None,
    }
    assert await stored_tasks(rt, tenant.creds.account_id) == []
    assert await stored_tasks(rt, other_tenant.creds.account_id) == []


async def test_send_code_with_an_unknown_app_is_rejected_with_minus_32(tenant: Tenant) -> None:
    env = await tenant.client.send_code(**code_body(tenant, appId="noSuchAp"))
    assert (env.code, env.reason) == ("-32", f"{NO_APP}noSuchAp")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"text": None}, "text"), ({"text": "   "}, "text"), ({"language": None}, "language")],
)
async def test_send_code_without_text_or_language_is_rejected_with_minus_22_naming_it(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, **changes))
    assert (env.code, env.reason) == ("-22", f"Parameter exception: {field}: is required")


@pytest.mark.parametrize("language", ["XX", "English", "zh"])
async def test_send_code_in_an_unknown_language_is_rejected_with_minus_39(
    tenant: Tenant, language: str
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, language=language))
    assert env.code == "-39" and "language" in env.reason


@pytest.mark.parametrize(
    "language",
    ["VN", "EN", "JP", "ARB", "DE", "IN", "IT", "KR", "RU", "ES", "PT", "IDN", "BD", "TH"],
)
async def test_send_code_accepts_every_vendor_language_with_code_0(
    tenant: Tenant, language: str
) -> None:
    # with the sample's accent 91 too: an accent a language does not have is its default
    env = await tenant.client.send_code(**code_body(tenant, language=language))
    assert env.code == "0", env.reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"language": "JP", "accent": None, "speakingRate": 3},
            "speakingRate: 3 is outside what the kokoro voice speaks (0.50-2.00)",
        ),
    ],
)
async def test_send_code_no_installed_voice_can_serve_is_refused_with_minus_39_naming_the_field(
    tenant: Tenant, rt: Runtime, changes: dict[str, Any], reason: str
) -> None:
    env = await tenant.client.send_code(**code_body(tenant, **changes))
    assert (env.code, env.reason) == ("-39", f"Failed to obtain the text language type: {reason}")
    assert await stored_tasks(rt, tenant.creds.account_id) == []


async def test_send_code_to_a_destination_without_a_rate_is_rejected_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    norate = await make_tenant(rt, app, clock, "norate", rate=None)
    try:
        env = await norate.client.send_code(**code_body(norate))
        assert env.code == "-26"
        assert env.reason.startswith("Getting fee faily: callee: ") and "932111111111" in (
            env.reason
        )
        assert await stored_tasks(rt, norate.creds.account_id) == []
    finally:
        await norate.client.aclose()


async def test_send_code_with_zero_balance_is_rejected_with_minus_10(
    tenant: Tenant, rt: Runtime
) -> None:
    await zero_balance(rt, tenant)
    env = await tenant.client.send_code(**code_body(tenant))
    assert env.code == "-10"
    assert await stored_tasks(rt, tenant.creds.account_id) == []


# -- sendGroup: 0 --------------------------------------------------------------------------


async def test_send_group_answers_one_submission_result_per_number_with_code_0(
    tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    file_id = await upload(tenant)
    numbers = ["8613000000000", "8613000000001", "8613000000002"]
    env = await tenant.client.send_group(
        callee=",".join(numbers),
        fileId=file_id,
        appId=tenant.app_id,
        displayNum="1008122211",
        maxDuration=30,
        maxRingingTime=25,
        loopCount=3,
        calledInfo="order 42",
    )
    assert env.raw["status"] == "0" and env.raw["reason"] == "success", env.reason
    assert [d["callee"] for d in env.data] == numbers
    for item in env.data:
        assert set(item) == {"voiceId", "callee", "terminationCode", "terminationReason"}
        assert VOICE_ID.match(item["voiceId"])
        assert (item["terminationCode"], item["terminationReason"]) == ("0", "success")
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.kind == TaskKind.MESSAGE and task.task_name is None
    assert task.status == TaskStatus.WAITING and task.source == Source.UPLOADED
    assert (task.voice_file_id, task.display_num, task.num_cnt) == (file_id, "1008122211", 3)
    assert (task.loop_count, task.max_calls, task.max_ringing_time) == (3, 30, 25)
    assert task.params["fileId"] == file_id and "callee" not in task.params
    rows = await callees_of(rt, task.id)
    assert [r.callee for r in rows] == numbers
    assert [r.voice_id for r in rows] == [d["voiceId"] for d in env.data]
    assert all(r.voice_id == ids.voice_id(clock.now(), r.id) for r in rows)
    assert all(r.info == {"calledInfo": "order 42"} for r in rows)


async def test_send_group_keeps_each_occurrence_of_a_repeated_number(
    tenant: Tenant, rt: Runtime
) -> None:
    file_id = await upload(tenant)
    env = await tenant.client.send_group(
        callee="8613000000000, 8613000000001 ,8613000000000,",
        fileId=file_id,
        appId=tenant.app_id,
    )
    assert env.code == "0", env.reason
    assert [d["callee"] for d in env.data] == ["8613000000000", "8613000000001", "8613000000000"]
    assert len({d["voiceId"] for d in env.data}) == 3
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    assert task.num_cnt == 3 and task.max_calls == 60 and task.loop_count == 1


async def test_send_group_of_1000_numbers_is_accepted_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    file_id = await upload(tenant)
    numbers = [f"8613{i:09d}" for i in range(1000)]
    env = await tenant.client.send_group(
        callee=",".join(numbers), fileId=file_id, appId=tenant.app_id
    )
    assert env.code == "0", env.reason
    assert [d["callee"] for d in env.data] == numbers
    assert len({d["voiceId"] for d in env.data}) == 1000
    (task,) = await stored_tasks(rt, tenant.creds.account_id)
    async with rt.sessions() as session:
        with_ids = await session.scalar(
            select(func.count())
            .select_from(Callee)
            .where(Callee.task_id == task.id, Callee.voice_id.is_not(None))
        )
    assert with_ids == 1000


@pytest.mark.parametrize("path", ["/v3/voice/sendGroup", "/voice/sendGroup"])
async def test_send_group_is_served_with_and_without_v3_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    file_id = await upload(tenant)
    body = {"callee": 8613000000000, "fileId": file_id, "appId": tenant.app_id}
    resp = await raw_post(http, tenant, clock, path, json_body=body)
    assert resp["status"] == "0", resp["reason"]
    assert resp["data"][0]["callee"] == "8613000000000"


# -- sendGroup: -1, -2, -16, -18 ------------------------------------------------------------


async def test_send_group_with_a_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = {"callee": "8613000000000", "fileId": "x.mp3", "appId": tenant.app_id}
    resp = await raw_post(http, tenant, clock, "/voice/sendGroup", json_body=body, secret="no")
    assert resp["status"] == "-1"


async def test_send_group_from_an_ip_outside_the_whitelist_is_rejected_with_minus_2(
    tenant: Tenant, rt: Runtime
) -> None:
    file_id = await upload(tenant)
    async with rt.sessions.begin() as session:
        await accounts.set_ip_whitelist(session, tenant.creds.account_id, "192.0.2.0/24")
    env = await tenant.client.send_group(
        callee="8613000000000", fileId=file_id, appId=tenant.app_id
    )
    assert env.code == "-2"


async def test_send_group_with_a_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = {"callee": "8613000000000", "fileId": "x.mp3", "appId": tenant.app_id}
    resp = await raw_post(http, tenant, clock, "/voice/sendGroup", json_body=body, age=-3600)
    assert resp["status"] == "-16"


async def test_send_group_body_that_is_not_json_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    resp = await raw_post(http, tenant, clock, "/voice/sendGroup", content="callee=1,2")
    assert resp["status"] == "-18"


# -- sendGroup: -7, -8, -22 -----------------------------------------------------------------


async def test_send_group_over_1000_numbers_is_rejected_with_minus_7(
    tenant: Tenant, rt: Runtime
) -> None:
    numbers = ",".join(f"8613{i:09d}" for i in range(1001))
    env = await tenant.client.send_group(callee=numbers, fileId="x.mp3", appId=tenant.app_id)
    assert env.code == "-7"
    assert env.reason.startswith("Phone numbers exceed limit: callee")
    assert await stored_tasks(rt, tenant.creds.account_id) == []


@pytest.mark.parametrize("callee", ["", " ", ",", " , ,"], ids=repr)
async def test_send_group_without_numbers_is_rejected_with_minus_8(
    tenant: Tenant, callee: str
) -> None:
    env = await tenant.client.send_group(callee=callee, fileId="x.mp3", appId=tenant.app_id)
    assert env.code == "-8" and "callee" in env.reason


@pytest.mark.parametrize(
    ("callee", "index"),
    [
        ("8613000000000,8613000000001,12x", "callee[2]"),
        ("+8613000000000", "callee[0]"),
        ("8613000000000,123456", "callee[1]"),
        ("8613000000000,8613000000001,8613000000002,8613000000000000", "callee[3]"),
    ],
)
async def test_send_group_bad_number_is_rejected_with_minus_9_naming_its_index(
    tenant: Tenant, callee: str, index: str
) -> None:
    env = await tenant.client.send_group(callee=callee, fileId="x.mp3", appId=tenant.app_id)
    assert env.code == "-9"
    assert env.reason.startswith(f"Abnormal phone number: {index}: "), env.reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"callee": None}, "callee"),
        ({"fileId": None}, "fileId"),
        ({"fileId": ""}, "fileId"),
        ({"appId": None}, "appId"),
        ({"displayNum": "12ab"}, "displayNum"),
        ({"maxDuration": 0}, "maxDuration"),
        ({"maxDuration": 121}, "maxDuration"),
        ({"maxRingingTime": 19}, "maxRingingTime"),
        ({"maxRingingTime": 121}, "maxRingingTime"),
        ({"loopCount": 0}, "loopCount"),
        ({"loopCount": 4}, "loopCount"),
        ({"calledInfo": "i" * 1001}, "calledInfo"),
    ],
)
async def test_send_group_field_out_of_range_is_rejected_with_minus_22_naming_it(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {
        "callee": "8613000000000",
        "fileId": "x.mp3",
        "appId": tenant.app_id,
        **changes,
    }
    env = await tenant.client.send_group(**{k: v for k, v in body.items() if v is not None})
    assert env.code == "-22", env.reason
    assert env.reason.startswith("Parameter exception: " + field), env.reason


# -- sendGroup: -24, -26, -10 ---------------------------------------------------------------


async def test_send_group_with_an_unknown_file_is_rejected_with_minus_24(tenant: Tenant) -> None:
    env = await tenant.client.send_group(
        callee="8613000000000",
        fileId="1202603020000000000000000000000000000.mp3",
        appId=tenant.app_id,
    )
    assert env.code == "-24" and "fileId" in env.reason


async def test_send_group_with_another_tenants_file_is_rejected_with_minus_24(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    theirs = await upload(other_tenant)
    env = await tenant.client.send_group(callee="8613000000000", fileId=theirs, appId=tenant.app_id)
    assert env.code == "-24" and "fileId" in env.reason
    assert await stored_tasks(rt, tenant.creds.account_id) == []


async def test_send_group_with_another_tenants_app_is_rejected_with_minus_32(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    file_id = await upload(tenant)
    env = await tenant.client.send_group(
        callee="8613000000000", fileId=file_id, appId=other_tenant.app_id
    )
    assert (env.code, env.reason) == ("-32", f"{NO_APP}{other_tenant.app_id}")


async def test_send_group_to_a_destination_without_a_rate_is_rejected_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    norate = await make_tenant(rt, app, clock, "norate", rate=None)
    try:
        file_id = await upload(norate)
        env = await norate.client.send_group(
            callee="8613000000000,4420000000000", fileId=file_id, appId=norate.app_id
        )
        assert env.code == "-26"
        assert env.reason.startswith("Getting fee faily: callee[0]: ")
        assert await stored_tasks(rt, norate.creds.account_id) == []
    finally:
        await norate.client.aclose()


async def test_send_group_names_the_first_number_without_a_rate_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    from voxcast.services import rates

    partial = await make_tenant(rt, app, clock, "china only", rate=None)
    try:
        async with rt.sessions.begin() as session:
            await rates.set_rate(session, partial.creds.account_id, "86", Decimal("0.01"))
        file_id = await upload(partial)
        env = await partial.client.send_group(
            callee="8613000000000,4420000000000", fileId=file_id, appId=partial.app_id
        )
        assert env.code == "-26" and "callee[1]" in env.reason and "4420000000000" in env.reason
    finally:
        await partial.client.aclose()


async def test_send_group_with_zero_balance_is_rejected_with_minus_10(
    tenant: Tenant, rt: Runtime
) -> None:
    file_id = await upload(tenant)
    await zero_balance(rt, tenant)
    env = await tenant.client.send_group(
        callee="8613000000000", fileId=file_id, appId=tenant.app_id
    )
    assert env.code == "-10"
    assert await stored_tasks(rt, tenant.creds.account_id) == []


# -- text the database cannot keep: -22, never -18 ------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "code\u0000 1234"),
        ("appId", "\u0000"),
        ("calledInfo", "\ud800"),
        ("accent", "9\u00001"),
        ("language", "E\u0000N"),
    ],
    ids=repr,
)
async def test_send_code_nul_or_lone_surrogate_is_rejected_with_minus_22_naming_the_field(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, field: str, value: str
) -> None:
    body = json.dumps({**code_body(tenant), field: value})  # ASCII JSON: \u escapes
    resp = await raw_post(http, tenant, clock, "/v3/voice/sendCode", content=body)
    assert resp["status"] == "-22" and resp["reason"].startswith(
        f"Parameter exception: {field}: "
    ), resp["reason"]


@pytest.mark.parametrize("field", ["fileId", "callee", "calledInfo"])
async def test_send_group_nul_is_rejected_with_minus_22_naming_the_field(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, field: str
) -> None:
    body = {"callee": "8613000000000", "fileId": "x.mp3", "appId": tenant.app_id}
    body[field] = body.get(field, "x") + "\u0000"
    resp = await raw_post(http, tenant, clock, "/v3/voice/sendGroup", content=json.dumps(body))
    assert resp["status"] == "-22" and field in resp["reason"], resp["reason"]
