"""recordGroup/{voiceId} and recordGroupQuery against api-catalog §3 and §4.1: the record's
fields and formats, queued voiceIds (answered alike by both), paging, and every code a request
can trigger
(0, -1, -11, -16, -18, -22, -24, -25). Records are inserted directly: the dialer writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import Tenant
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.domain.enums import CalleeState, RecordType
from voxcast.runtime import Runtime
from voxcast.services.records import record_to_push_json, record_to_query_json
from voxcast.storage.models import Callee, CallRecord

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
SIX_DECIMALS = re.compile(r"^\d+\.\d{6}$")

#: every field of the vendor's record (api-catalog §3 and §4.1) that voxcast fills
FIELDS = {
    "voiceId",
    "type",
    "callee",
    "displayNum",
    "code",
    "submitTime",
    "callTime",
    "ringingTime",
    "answerTime",
    "hangupTime",
    "callDuration",
    "chargedDuration",
    "ringDuration",
    "billPeriod",
    "rate",
    "baseCost",
    "cost",
    "terminationCode",
    "terminationReason",
    "sipCode",
    "feedbackValue",
    "calledInfo",
    "voiceFileId",
    "outRecallCount",
    "currency",
}
TIMES = ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")


def answered(tenant: Tenant | None, voice_id: str, at: datetime, **changes: Any) -> CallRecord:
    """An answered 13 s call submitted at `at`, as the dialer writes it (no tenant: a row that
    is never stored)."""
    values: dict[str, Any] = {
        "voice_id": voice_id,
        "account_id": tenant.creds.account_id if tenant else 1,
        "app_id": tenant.app_id if tenant else "appAAAAA",
        "task_id": None,
        "type": RecordType.GROUP_CALL,
        "callee": "8613000000001",
        "display_num": "1008122211",
        "code": "China",
        "submit_time": at,
        "call_time": at + timedelta(seconds=5),
        "ringing_time": at + timedelta(seconds=6),
        "answer_time": at + timedelta(seconds=8),
        "hangup_time": at + timedelta(seconds=21),
        "call_duration": 13,
        "ring_duration": 2,
        "charged_duration": 20,
        "bill_period": "20+20",
        "rate": Decimal("0.06"),
        "base_cost": Decimal("0.02"),
        "cost": Decimal("0.02"),
        "termination_code": "200",
        "termination_reason": "success",
        "sip_code": "200",
        "feedback_value": "1",
        "called_info": '{"text1":"Tom"}',
        "voice_file_id": "120260302aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.mp3",
        "out_recall_count": 1,
    }
    values.update(changes)
    return CallRecord(**values)


async def insert(rt: Runtime, *records: CallRecord) -> None:
    async with rt.sessions.begin() as session:
        session.add_all(records)


def window(**params: Any) -> dict[str, Any]:
    base = {"strTime": "2026-03-02T00:00:00+00:00", "endTime": "2026-03-02T23:59:59+00:00"}
    base.update(params)
    return {k: v for k, v in base.items() if v is not None}


async def raw(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    method: str,
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
        resp = await http.request(method, path, content=content, headers=headers)
    elif json_body is not None:
        resp = await http.request(method, path, json=json_body, headers=headers)
    else:
        resp = await http.request(method, path, headers=headers)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


# -- recordGroup/{voiceId}: 0 ----------------------------------------------------------------


async def test_record_answers_every_field_of_the_report_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    await insert(rt, answered(tenant, "2603020800000000001", T0))
    env = await tenant.client.record("2603020800000000001")
    assert env.raw["status"] == "0" and env.raw["reason"] == "success"
    d = env.data
    assert set(d) == FIELDS
    assert d["voiceId"] == "2603020800000000001" and d["type"] == 1
    assert (d["callee"], d["displayNum"], d["code"]) == ("8613000000001", "1008122211", "China")
    assert d["submitTime"] == "2026-03-02T08:00:00+00:00"
    assert d["callTime"] == "2026-03-02T08:00:05+00:00"
    assert d["ringingTime"] == "2026-03-02T08:00:06+00:00"
    assert d["answerTime"] == "2026-03-02T08:00:08+00:00"
    assert d["hangupTime"] == "2026-03-02T08:00:21+00:00"
    assert (d["callDuration"], d["chargedDuration"], d["ringDuration"]) == (13, 20, 2)
    assert (d["billPeriod"], d["rate"], d["baseCost"], d["cost"]) == (
        "20+20",
        "0.060000",
        "0.020000",
        "0.020000",
    )
    assert (d["terminationCode"], d["terminationReason"], d["sipCode"]) == (
        "200",
        "success",
        "200",
    )
    assert (d["feedbackValue"], d["calledInfo"], d["outRecallCount"]) == (
        "1",
        '{"text1":"Tom"}',
        1,
    )
    assert d["voiceFileId"].endswith(".mp3") and d["currency"] == "USD"


async def test_record_of_an_unanswered_call_has_null_times_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    await insert(
        rt,
        answered(
            tenant,
            "2603020800000000002",
            T0,
            type=RecordType.VERIFICATION_CODE,
            answer_time=None,
            hangup_time=T0 + timedelta(seconds=66),
            call_duration=0,
            charged_duration=0,
            ring_duration=60,
            termination_code="480",
            termination_reason="no answer",
            sip_code="480",
            feedback_value="-1",
            cost=Decimal(0),
            base_cost=Decimal(0),
            called_info=None,
            voice_file_id=None,
        ),
    )
    d = (await tenant.client.record("2603020800000000002")).data
    assert d["type"] == 2 and d["answerTime"] is None
    assert ISO.match(d["ringingTime"]) and ISO.match(d["hangupTime"])
    assert (d["terminationCode"], d["sipCode"], d["feedbackValue"]) == ("480", "480", "-1")
    assert (d["cost"], d["calledInfo"], d["voiceFileId"]) == ("0.000000", None, None)


@pytest.mark.parametrize(
    "path", ["/v3/voice/recordGroup/2603020800000000003", "/voice/recordGroup/2603020800000000003"]
)
async def test_record_is_served_with_and_without_v3_with_code_0(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock, path: str
) -> None:
    await insert(rt, answered(tenant, "2603020800000000003", T0))
    body = await raw(http, tenant, clock, "GET", path)
    assert body["status"] == "0" and body["data"]["voiceId"] == "2603020800000000003"


async def test_queued_send_code_voice_id_answers_an_empty_record_with_code_0(
    tenant: Tenant, clock: FixedClock
) -> None:
    sent = await tenant.client.send_code(
        callee="932111111111",
        displayNum="1008122211",
        language="EN",
        text="your code is 1 2 3 4",
        appId=tenant.app_id,
        calledInfo="order 7",
    )
    env = await tenant.client.record(sent.data)
    assert env.code == "0", env.reason
    d = env.data
    assert set(d) == FIELDS
    assert (d["voiceId"], d["type"], d["callee"]) == (sent.data, 2, "932111111111")
    assert d["submitTime"] == clock.now().isoformat(timespec="seconds")
    assert all(d[t] is None for t in TIMES[1:])
    assert (d["terminationCode"], d["terminationReason"]) == ("", "queued")
    assert (d["callDuration"], d["chargedDuration"], d["cost"]) == (0, 0, "0.000000")
    assert (d["displayNum"], d["calledInfo"], d["currency"]) == ("1008122211", "order 7", "USD")


async def test_queued_send_group_voice_id_answers_an_empty_group_record_with_code_0(
    tenant: Tenant,
) -> None:
    file_id = (await tenant.client.upload_file("n.mp3", audio_b64("mp3", 0.5))).data
    sent = await tenant.client.send_group(
        callee="8613000000000,8613000000001", fileId=file_id, appId=tenant.app_id
    )
    second = sent.data[1]["voiceId"]
    d = (await tenant.client.record(second)).data
    assert (d["type"], d["callee"], d["voiceFileId"]) == (1, "8613000000001", file_id)
    assert d["callTime"] is None and d["terminationCode"] == ""


async def test_voice_id_being_dialed_answers_calling_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    sent = await tenant.client.send_code(
        callee="932111111111", language="EN", text="hi", appId=tenant.app_id
    )
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Callee).where(Callee.voice_id == sent.data).values(state=CalleeState.DIALING)
        )
    d = (await tenant.client.record(sent.data)).data
    assert (d["terminationCode"], d["terminationReason"], d["callTime"]) == ("", "calling", None)


async def test_written_record_replaces_the_queued_answer(tenant: Tenant, rt: Runtime) -> None:
    sent = await tenant.client.send_code(
        callee="932111111111", language="EN", text="hi", appId=tenant.app_id
    )
    await insert(rt, answered(tenant, sent.data, T0, type=RecordType.VERIFICATION_CODE))
    d = (await tenant.client.record(sent.data)).data
    assert (d["terminationCode"], d["answerTime"]) == ("200", "2026-03-02T08:00:08+00:00")


# -- recordGroup: -1, -16, -24 ---------------------------------------------------------------


async def test_record_with_a_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await raw(http, tenant, clock, "GET", "/v3/voice/recordGroup/1", secret="nope")
    assert body["status"] == "-1"


async def test_record_with_a_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await raw(http, tenant, clock, "GET", "/v3/voice/recordGroup/1", age=3600)
    assert body["status"] == "-16"


@pytest.mark.parametrize(
    "voice_id",
    ["2603020800000009999", "1", "abc", "26030208 0000", "9" * 33, "%00", "%E2%82%AC", "-1"],
)
async def test_unknown_or_malformed_voice_id_is_rejected_with_minus_24(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, voice_id: str
) -> None:
    body = await raw(http, tenant, clock, "GET", f"/v3/voice/recordGroup/{voice_id}")
    assert body["status"] == "-24" and "voiceId" in body["reason"]
    assert body["data"] is None


# -- the push form (§4.1) ------------------------------------------------------------------


def test_push_form_has_the_same_fields_with_epoch_millisecond_times() -> None:
    rec = answered(None, "2603020800000000004", T0, ringing_time=None)
    push = record_to_push_json(rec)
    query = record_to_query_json(rec)
    assert set(push) == set(query) == FIELDS
    assert push["submitTime"] == int(T0.timestamp() * 1000) == 1772438400000
    assert push["callTime"] == 1772438405000 and push["ringingTime"] is None
    assert push["hangupTime"] - push["answerTime"] == 13_000
    assert all(isinstance(push[t], int) for t in TIMES if t != "ringingTime")
    # everything but the times is the same in both forms
    assert {k: v for k, v in push.items() if k not in TIMES} == {
        k: v for k, v in query.items() if k not in TIMES
    }


# -- recordGroupQuery: 0 ---------------------------------------------------------------------


async def test_record_query_pages_by_submit_time_then_voice_id_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    # two records share a submit time: the voiceId breaks the tie
    await insert(
        rt,
        answered(tenant, "2603020800000000105", T0 + timedelta(minutes=1)),
        answered(tenant, "2603020800000000101", T0 + timedelta(minutes=1)),
        answered(tenant, "2603020800000000100", T0),
        answered(tenant, "2603020800000000103", T0 + timedelta(minutes=3)),
        answered(tenant, "2603020800000000102", T0 + timedelta(minutes=2)),
    )
    env = await tenant.client.query_records(current=2, size=2, **window())
    assert env.raw["status"] == "0" and env.raw["reason"] == "success"
    assert {k: env.data[k] for k in ("total", "size", "current", "pages", "searchCount")} == {
        "total": 5,
        "size": 2,
        "current": 2,
        "pages": 3,
        "searchCount": True,
    }
    assert [r["voiceId"] for r in env.data["records"]] == [
        "2603020800000000105",
        "2603020800000000102",
    ]
    assert set(env.data["records"][0]) == FIELDS
    last = await tenant.client.query_records(current=3, size=2, **window())
    assert [r["voiceId"] for r in last.data["records"]] == ["2603020800000000103"]
    beyond = await tenant.client.query_records(current=9, size=2, **window())
    assert beyond.data["records"] == [] and beyond.data["total"] == 5


async def test_record_query_defaults_to_page_1_of_25_with_code_0(
    tenant: Tenant, rt: Runtime, http: httpx.AsyncClient, clock: FixedClock
) -> None:
    await insert(
        rt,
        *(
            answered(tenant, f"26030208000000002{i:02d}", T0 + timedelta(seconds=i))
            for i in range(30)
        ),
    )
    body = await raw(
        http, tenant, clock, "POST", "/v3/voice/recordGroupQuery", json_body={"params": window()}
    )
    assert body["status"] == "0", body["reason"]
    assert (body["data"]["current"], body["data"]["size"], body["data"]["pages"]) == (1, 25, 2)
    assert len(body["data"]["records"]) == 25


async def test_record_query_includes_both_ends_of_the_window_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    await insert(
        rt,
        answered(tenant, "2603020800000000300", T0 - timedelta(seconds=1)),
        answered(tenant, "2603020800000000301", T0),
        answered(tenant, "2603020800000000302", T0 + timedelta(hours=1)),
        answered(tenant, "2603020800000000303", T0 + timedelta(hours=1, seconds=1)),
    )
    env = await tenant.client.query_records(
        strTime="2026-03-02T08:00:00+00:00", endTime="2026-03-02T09:00:00+00:00"
    )
    assert [r["voiceId"] for r in env.data["records"]] == [
        "2603020800000000301",
        "2603020800000000302",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-02T16:00:00+08:00", "2026-03-02T17:00:00+08:00"),
        ("2026-03-02 08:00:00", "2026-03-02 09:00:00"),
        ("2026-03-02T08:00:00Z", "2026-03-02T04:00:00-05:00"),
        ("2026-03-02T08:00:00.000+00:00", "2026-03-02T09:00:00.999+00:00"),
    ],
)
async def test_record_query_reads_offsets_and_plain_utc_times_with_code_0(
    tenant: Tenant, rt: Runtime, start: str, end: str
) -> None:
    await insert(
        rt,
        answered(tenant, "2603020800000000400", T0 + timedelta(minutes=30)),
        answered(tenant, "2603020800000000401", T0 + timedelta(hours=2)),
    )
    env = await tenant.client.query_records(strTime=start, endTime=end)
    assert env.code == "0", env.reason
    assert [r["voiceId"] for r in env.data["records"]] == ["2603020800000000400"]


async def test_record_query_lists_code_and_group_records_together_with_code_0(
    tenant: Tenant, rt: Runtime
) -> None:
    await insert(
        rt,
        answered(tenant, "2603020800000000500", T0, type=RecordType.GROUP_CALL),
        answered(tenant, "2603020800000000501", T0, type=RecordType.VERIFICATION_CODE),
    )
    env = await tenant.client.query_records(**window())
    assert sorted(r["type"] for r in env.data["records"]) == [1, 2]


async def test_record_query_filters_by_task_id_with_code_0(tenant: Tenant, rt: Runtime) -> None:
    await insert(
        rt,
        answered(tenant, "2603020800000000600", T0, task_id=7),
        answered(tenant, "2603020800000000601", T0, task_id=8),
        answered(tenant, "2603020800000000602", T0),
    )
    env = await tenant.client.query_records(taskId=8, **window())
    assert [r["voiceId"] for r in env.data["records"]] == ["2603020800000000601"]
    assert env.data["total"] == 1
    none = await tenant.client.query_records(taskId=9, **window())
    assert none.code == "0" and none.data["total"] == 0 and none.data["records"] == []


async def test_record_query_window_of_exactly_31_days_is_accepted_with_code_0(
    tenant: Tenant,
) -> None:
    env = await tenant.client.query_records(
        strTime="2026-02-01T00:00:00+00:00", endTime="2026-03-04T00:00:00+00:00"
    )
    assert env.code == "0", env.reason


async def test_record_query_lists_a_queued_call_exactly_as_record_group_answers_it(
    tenant: Tenant,
) -> None:
    sent = await tenant.client.send_code(
        callee="932111111111", language="EN", text="hi", appId=tenant.app_id
    )
    single = await tenant.client.record(sent.data)
    env = await tenant.client.query_records(**window())
    assert env.code == "0", env.reason
    assert env.data["total"] == 1
    assert env.data["records"] == [single.data]
    assert (single.data["terminationCode"], single.data["terminationReason"]) == ("", "queued")


async def test_record_query_mixes_queued_and_made_calls_by_submit_time_once_each(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    file_id = (await tenant.client.upload_file("n.mp3", audio_b64("mp3", 0.5))).data
    sent = await tenant.client.send_group(
        callee="8613000000000,8613000000001", fileId=file_id, appId=tenant.app_id
    )
    first, second = (r["voiceId"] for r in sent.data)
    submitted = clock.now()
    # the first number has been called: its record replaces the queued entry
    await insert(rt, answered(tenant, first, submitted, task_id=None))
    await insert(rt, answered(tenant, "2603020800000000700", T0))
    await other_tenant.client.send_code(
        callee="932111111111", language="EN", text="hi", appId=other_tenant.app_id
    )
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Callee).where(Callee.voice_id == second).values(state=CalleeState.DIALING)
        )
    env = await tenant.client.query_records(**window())
    assert env.data["total"] == 3
    assert [
        (r["voiceId"], r["terminationCode"], r["terminationReason"]) for r in env.data["records"]
    ] == [
        ("2603020800000000700", "200", "success"),
        *sorted([(first, "200", "success"), (second, "", "calling")]),
    ]
    paged = await tenant.client.query_records(current=2, size=2, **window())
    assert [r["voiceId"] for r in paged.data["records"]] == [max(first, second)]


async def test_record_query_by_task_id_lists_that_tasks_queued_calls(
    tenant: Tenant, rt: Runtime
) -> None:
    file_id = (await tenant.client.upload_file("n.mp3", audio_b64("mp3", 0.5))).data
    voice_ids = [
        (await tenant.client.send_group(callee=number, fileId=file_id, appId=tenant.app_id)).data[
            0
        ]["voiceId"]
        for number in ("8613000000000", "8613000000001")
    ]
    async with rt.sessions() as session:
        task_ids = [
            await session.scalar(select(Callee.task_id).where(Callee.voice_id == vid))
            for vid in voice_ids
        ]
    for task_id, voice_id in zip(task_ids, voice_ids, strict=True):
        env = await tenant.client.query_records(taskId=task_id, **window())
        assert env.data["total"] == 1
        assert [r["voiceId"] for r in env.data["records"]] == [voice_id]


# -- recordGroupQuery: -1, -11, -16, -18, -22, -25 -------------------------------------------


async def test_record_query_with_a_wrong_sign_is_rejected_with_minus_1(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await raw(
        http,
        tenant,
        clock,
        "POST",
        "/v3/voice/recordGroupQuery",
        json_body={"params": window()},
        secret="nope",
    )
    assert body["status"] == "-1"


async def test_record_query_with_a_stale_timestamp_is_rejected_with_minus_16(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await raw(
        http,
        tenant,
        clock,
        "POST",
        "/v3/voice/recordGroupQuery",
        json_body={"params": window()},
        age=1000,
    )
    assert body["status"] == "-16"


async def test_record_query_body_that_is_not_json_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = await raw(
        http, tenant, clock, "POST", "/voice/recordGroupQuery", content="current=1&size=10"
    )
    assert body["status"] == "-18"


async def test_record_query_over_31_days_is_rejected_with_minus_25(tenant: Tenant) -> None:
    env = await tenant.client.query_records(
        strTime="2026-02-01T00:00:00+00:00", endTime="2026-03-04T00:00:01+00:00"
    )
    assert env.code == "-25" and env.reason.startswith("Out of time range")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (window(strTime="yesterday"), "params.strTime"),
        (window(endTime="2026-13-01T00:00:00+00:00"), "params.endTime"),
        (window(endTime="02/03/2026 10:00"), "params.endTime"),
        (window(strTime="0001-01-01T00:00:00+08:00"), "params.strTime"),
    ],
)
async def test_record_query_time_in_a_wrong_format_is_rejected_with_minus_11(
    tenant: Tenant, params: dict[str, str], field: str
) -> None:
    env = await tenant.client.query_records(**params)
    assert env.code == "-11" and field in env.reason


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "params.strTime"),
        ({"params": {}}, "params.strTime"),
        ({"params": window(strTime=None)}, "params.strTime"),
        ({"params": window(endTime=None)}, "params.endTime"),
        ({"params": window(strTime="")}, "params.strTime"),
        ({"params": "2026-03-02"}, "params"),
        ({"params": window(taskId=0)}, "params.taskId"),
        ({"params": window(taskId="x")}, "params.taskId"),
        ({"params": window(), "size": 0}, "size"),
        ({"params": window(), "size": 101}, "size"),
        ({"params": window(), "current": 0}, "current"),
        (
            {
                "params": {
                    "strTime": "2026-03-02T00:00:00+00:00",
                    "endTime": "2026-03-01T23:59:59+00:00",
                }
            },
            "params.endTime",
        ),
    ],
)
async def test_record_query_bad_parameter_is_rejected_with_minus_22_naming_it(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    body: dict[str, Any],
    field: str,
) -> None:
    resp = await raw(http, tenant, clock, "POST", "/v3/voice/recordGroupQuery", json_body=body)
    assert resp["status"] == "-22", resp["reason"]
    assert resp["reason"].startswith("Parameter exception: " + field), resp["reason"]
