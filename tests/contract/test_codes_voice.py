"""Single sends (sendCode, sendGroup), records (recordGroup, recordGroupQuery), voice file
upload and balance against the vendor pages: every code a request can trigger."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, make_tenant
from tests.contract.test_records import FIELDS
from tests.helpers import signed_headers
from tests.unit.audio.audiofiles import audio_b64
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.services.records import record_to_push_json
from voxcast.storage.models import CallRecord

SAMPLES = Path(__file__).parent / "samples"
OTP = {
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


def otp(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    body = {**OTP, "appId": tenant.app_id}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


# -- sendCode --------------------------------------------------------------------------------


async def test_send_code_catalog_sample_is_accepted_with_a_voice_id(tenant: Tenant) -> None:
    env = await tenant.client.send_code(**otp(tenant))
    assert env.raw["status"] == "0" and env.raw["reason"] == "success"
    assert re.fullmatch(r"\d{19}", env.data)
    record = await tenant.client.record(env.data)
    assert record.code == "0"
    assert record.data["callee"] == "932111111111" and record.data["callTime"] is None
    assert record.data["terminationReason"] == "queued" and record.data["type"] == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"callee": "93211111111a"}, "callee"),
        ({"callee": "932111"}, "callee"),
        ({"callee": "9321111111111111"}, "callee"),
        ({"loopCount": 10}, "loopCount"),
        ({"maxRingingTime": 19}, "maxRingingTime"),
        ({"speakingRate": 0.1}, "speakingRate"),
        ({"displayNum": "12ab"}, "displayNum"),
        ({"maxDuration": 121}, "maxDuration"),
        ({"appId": None}, "appId"),
    ],
)
async def test_send_code_field_errors_are_rejected_with_minus_22(
    tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    env = await tenant.client.send_code(**otp(tenant, **changes))
    assert env.code == "-22" and field in env.reason


@pytest.mark.parametrize("missing", ["text", "language"])
async def test_send_code_without_text_or_language_is_rejected_with_minus_22_naming_it(
    tenant: Tenant, missing: str
) -> None:
    env = await tenant.client.send_code(**otp(tenant, **{missing: None}))
    assert (env.code, env.reason) == ("-22", f"Parameter exception: {missing}: is required")


async def test_send_code_in_an_unknown_language_is_rejected_with_minus_39(tenant: Tenant) -> None:
    assert (await tenant.client.send_code(**otp(tenant, language="XX"))).code == "-39"


async def test_send_code_with_another_tenants_app_is_rejected_with_minus_32(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    env = await tenant.client.send_code(**otp(tenant, appId=other_tenant.app_id))
    assert env.code == "-32"


async def test_send_code_without_a_rate_is_rejected_with_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    unrated = await make_tenant(rt, app, clock, "unrated", rate=None)
    try:
        assert (await unrated.client.send_code(**otp(unrated))).code == "-26"
    finally:
        await unrated.client.aclose()


async def test_send_code_without_balance_is_rejected_with_minus_10(
    tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal(0), relative=False)
    assert (await tenant.client.send_code(**otp(tenant))).code == "-10"


async def test_send_code_body_that_is_not_json_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    ts = int(clock.now().timestamp())
    resp = await http.post(
        "/voice/sendCode",
        content="callee=1&text=2",
        headers=signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts),
    )
    assert resp.json()["status"] == "-18"


# -- sendGroup -------------------------------------------------------------------------------


async def uploaded(tenant: Tenant, name: str = "notice.mp3") -> str:
    env = await tenant.client.upload_file(name, audio_b64("mp3", 0.5))
    assert env.code == "0", env.reason
    return str(env.data)


async def test_send_group_answers_one_voice_id_per_number_in_order(tenant: Tenant) -> None:
    file_id = await uploaded(tenant)
    numbers = ["8613000000000", "8613000000001", "8613000000002"]
    env = await tenant.client.send_group(
        callee=",".join(numbers), fileId=file_id, appId=tenant.app_id, maxDuration=60, loopCount=2
    )
    assert env.code == "0", env.reason
    assert [d["callee"] for d in env.data] == numbers
    assert all(
        d["terminationCode"] == "0"
        and d["terminationReason"] == "success"
        and re.fullmatch(r"\d{19}", d["voiceId"])
        for d in env.data
    )


async def test_send_group_without_numbers_is_rejected_with_minus_8(tenant: Tenant) -> None:
    env = await tenant.client.send_group(callee=" , ", fileId="x", appId=tenant.app_id)
    assert env.code == "-8"


async def test_send_group_over_1000_numbers_is_rejected_with_minus_7(tenant: Tenant) -> None:
    numbers = ",".join(f"8613{i:09d}" for i in range(1001))
    env = await tenant.client.send_group(callee=numbers, fileId="x", appId=tenant.app_id)
    assert env.code == "-7"


async def test_send_group_bad_number_is_rejected_with_minus_9_naming_it(tenant: Tenant) -> None:
    env = await tenant.client.send_group(
        callee="8613000000000,8613000000001,12x", fileId="x", appId=tenant.app_id
    )
    assert (env.code, env.reason) == (
        "-9",
        "Abnormal phone number: callee[2]: '12x' must be 7-15 digits",
    )


async def test_send_group_with_someone_elses_file_is_rejected_with_minus_24(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await uploaded(other_tenant)
    env = await tenant.client.send_group(callee="8613000000000", fileId=theirs, appId=tenant.app_id)
    assert env.code == "-24" and "fileId" in env.reason


# -- records ---------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def insert_record(rt: Runtime, tenant: Tenant, voice_id: str, minutes: int = 0) -> None:
    at = T0 + timedelta(minutes=minutes)
    async with rt.sessions.begin() as session:
        session.add(
            CallRecord(
                voice_id=voice_id,
                account_id=tenant.creds.account_id,
                app_id=tenant.app_id,
                task_id=None,
                type=1,
                callee="8613000000001",
                display_num="1008122211",
                code="China",
                submit_time=at,
                call_time=at + timedelta(seconds=5),
                ringing_time=at + timedelta(seconds=6),
                answer_time=at + timedelta(seconds=8),
                hangup_time=at + timedelta(seconds=21),
                call_duration=13,
                ring_duration=2,
                charged_duration=20,
                bill_period="20+20",
                rate=Decimal("0.06"),
                base_cost=Decimal("0.02"),
                cost=Decimal("0.02"),
                termination_code="200",
                termination_reason="success",
                sip_code="200",
                feedback_value="1",
                called_info='{"text1":"Tom"}',
                voice_file_id=None,
                out_recall_count=1,
            )
        )


async def test_record_answers_every_field_of_the_report(tenant: Tenant, rt: Runtime) -> None:
    await insert_record(rt, tenant, "2603020800000000001")
    env = await tenant.client.record("2603020800000000001")
    assert env.raw["status"] == "0"
    d = env.data
    assert set(d) >= FIELDS
    assert d["answerTime"] == "2026-03-02T08:00:08+00:00"
    assert (d["rate"], d["cost"], d["chargedDuration"], d["feedbackValue"]) == (
        "0.060000",
        "0.020000",
        20,
        "1",
    )


async def test_push_form_of_a_record_has_epoch_millisecond_times(
    tenant: Tenant, rt: Runtime
) -> None:
    await insert_record(rt, tenant, "2603020800000000002")
    async with rt.sessions() as session:
        rec = await session.get(CallRecord, "2603020800000000002")
    assert rec is not None
    push = record_to_push_json(rec)
    assert push["submitTime"] == int(T0.timestamp() * 1000)
    assert push["hangupTime"] - push["answerTime"] == 13_000


async def test_unknown_or_foreign_record_is_rejected_with_minus_24(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    await insert_record(rt, other_tenant, "2603020800000000003")
    assert (await tenant.client.record("2603020800000000003")).code == "-24"
    assert (await tenant.client.record("1")).code == "-24"


async def test_record_query_pages_within_the_window(tenant: Tenant, rt: Runtime) -> None:
    for i in range(5):
        await insert_record(rt, tenant, f"26030208000000001{i:02d}", minutes=i)
    env = await tenant.client.query_records(
        current=2, size=2, strTime="2026-03-02T08:00:00+00:00", endTime="2026-03-02T08:03:30+00:00"
    )
    assert env.raw["status"] == "0"
    assert (env.data["total"], env.data["pages"], env.data["current"]) == (4, 2, 2)
    assert [r["voiceId"] for r in env.data["records"]] == [
        "2603020800000000102",
        "2603020800000000103",
    ]
    local = await tenant.client.query_records(
        strTime="2026-03-02T16:00:00+08:00", endTime="2026-03-02 08:10:00"
    )
    assert local.data["total"] == 5


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"strTime": "2026-01-01T00:00:00+00:00", "endTime": "2026-03-01T00:00:00+00:00"}, "-25"),
        ({"strTime": "2026-03-02T00:00:00+00:00", "endTime": "2026-03-01T00:00:00+00:00"}, "-22"),
        ({"strTime": "yesterday", "endTime": "2026-03-01T00:00:00+00:00"}, "-11"),
        ({"strTime": "2026-03-02T00:00:00+00:00"}, "-22"),
    ],
)
async def test_record_query_window_errors(
    tenant: Tenant, params: dict[str, str], code: str
) -> None:
    assert (await tenant.client.query_records(**params)).code == code


async def test_record_query_size_over_100_is_rejected_with_minus_22(tenant: Tenant) -> None:
    env = await tenant.client.query_records(
        size=101, strTime="2026-03-01T00:00:00+00:00", endTime="2026-03-02T00:00:00+00:00"
    )
    assert env.code == "-22" and "size" in env.reason


# -- fileUpload ------------------------------------------------------------------------------


async def test_upload_answers_a_vendor_style_file_id(tenant: Tenant) -> None:
    env = await tenant.client.upload_file("greeting.wav", audio_b64("wav", 0.5))
    assert env.raw["status"] == "0"
    assert re.fullmatch(r"1\d{8}[0-9a-f]{32}\.wav", env.data)


async def test_upload_of_an_existing_name_is_rejected_with_minus_20(tenant: Tenant) -> None:
    await tenant.client.upload_file("same.mp3", audio_b64("mp3", 0.5))
    assert (await tenant.client.upload_file("same.mp3", audio_b64("mp3", 0.5))).code == "-20"


@pytest.mark.parametrize(
    "content",
    ["not base64 at all!", "", "AAAA" * 64],
    ids=["invalid base64", "empty", "corrupt audio"],
)
async def test_upload_of_bad_content_is_rejected_with_minus_21(
    tenant: Tenant, content: str
) -> None:
    env = await tenant.client.upload_file("bad.mp3", content)
    assert env.code in ("-21", "-22") if content == "" else env.code == "-21"


@pytest.mark.parametrize("name", ["a.mp", "x" * 30 + ".mp3", "notes.txt"])
async def test_upload_with_a_bad_name_is_rejected_with_minus_22(tenant: Tenant, name: str) -> None:
    env = await tenant.client.upload_file(name, audio_b64("mp3", 0.5))
    assert env.code == "-22" and "fileName" in env.reason


async def test_upload_over_the_size_limit_is_rejected_with_minus_23(
    tenant: Tenant, rt: Runtime
) -> None:
    rt.settings.max_upload_bytes = 1000
    env = await tenant.client.upload_file("big.wav", audio_b64("wav", 1.0))
    assert env.code == "-23"


async def test_upload_sample_with_comments_is_rejected_with_minus_18(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = (SAMPLES / "quickstart_upload.txt").read_text().replace('"fileName"', '// c\n"fileName"')
    ts = int(clock.now().timestamp())
    resp = await http.post(
        "/voice/fileUpload",
        content=body,
        headers=signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts),
    )
    assert resp.json()["status"] == "-18"


# -- balance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v3/getBalance", "/getBalance", "/sms/getBalance"])
async def test_balance_fields_are_at_the_top_level(
    http: httpx.AsyncClient, tenant: Tenant, rt: Runtime, clock: FixedClock, path: str
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(
            session, tenant.creds.account_id, Decimal("99.99"), relative=False
        )
    ts = int(clock.now().timestamp())
    resp = await http.get(
        path, headers=signed_headers(tenant.creds.api_key, tenant.creds.api_secret, ts)
    )
    assert resp.json() == {
        "status": "0",
        "reason": "success",
        "balance": "99.990000",
        "gift": "0.000000",
        "credit": "0.000000",
    }
