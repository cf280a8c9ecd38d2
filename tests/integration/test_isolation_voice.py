"""Tenants are isolated on the single sends and the records: another account's voiceId or file
is answered -24 exactly as an unknown one, another account's appId -32 exactly as an unknown
appId, and a record query never returns another account's rows. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tests.conftest import Tenant
from tests.unit.audio.audiofiles import audio_b64
from voxcast.domain.enums import RecordType
from voxcast.runtime import Runtime
from voxcast.storage.models import CallRecord, Task

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WINDOW = {"strTime": "2026-03-02T00:00:00+00:00", "endTime": "2026-03-02T23:59:59+00:00"}


def record(owner: Tenant, voice_id: str, at: datetime, task_id: int | None = None) -> CallRecord:
    return CallRecord(
        voice_id=voice_id,
        account_id=owner.creds.account_id,
        app_id=owner.app_id,
        task_id=task_id,
        type=RecordType.GROUP_CALL,
        callee="8613000000001",
        display_num=None,
        code="China",
        submit_time=at,
        call_time=at,
        ringing_time=at,
        answer_time=at + timedelta(seconds=2),
        hangup_time=at + timedelta(seconds=12),
        call_duration=10,
        ring_duration=2,
        charged_duration=60,
        bill_period="60+60",
        rate=Decimal("0.02"),
        base_cost=Decimal("0.02"),
        cost=Decimal("0.02"),
        termination_code="200",
        termination_reason="success",
        sip_code="200",
        feedback_value="-1",
        called_info=None,
        voice_file_id=None,
        out_recall_count=0,
    )


def without_id(reason: str) -> str:
    """The reason with the voiceId taken out, to compare the answers for two ids."""
    return re.sub(r"\d{6,}", "<id>", reason)


async def test_another_accounts_call_record_is_answered_minus_24_like_an_unknown_one(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    async with rt.sessions.begin() as session:
        session.add(record(tenant, "2603020800000000001", T0))
    mine = await tenant.client.record("2603020800000000001")
    assert mine.code == "0"
    theirs = await other_tenant.client.record("2603020800000000001")
    unknown = await other_tenant.client.record("2603020800000000999")
    assert theirs.code == unknown.code == "-24"
    assert without_id(theirs.reason) == without_id(unknown.reason)
    assert theirs.data is None


async def test_another_accounts_queued_voice_ids_are_answered_minus_24(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    code = await tenant.client.send_code(
        callee="8613000000000", language="EN", text="code 1 2 3 4", appId=tenant.app_id
    )
    file_id = (await tenant.client.upload_file("alice.mp3", audio_b64("mp3", 0.3))).data
    group = await tenant.client.send_group(
        callee="8613000000001,8613000000002", fileId=file_id, appId=tenant.app_id
    )
    voice_ids = [code.data, *(d["voiceId"] for d in group.data)]
    for voice_id in voice_ids:
        assert (await tenant.client.record(voice_id)).code == "0"
        assert (await other_tenant.client.record(voice_id)).code == "-24"


async def test_record_query_never_returns_another_accounts_rows(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    # interleaved in time, some at the very same instant, across several pages
    rows = []
    for i in range(12):
        at = T0 + timedelta(minutes=i // 2)
        owner = tenant if i % 2 == 0 else other_tenant
        rows.append(record(owner, f"26030208000000001{i:02d}", at, task_id=100 + i % 2))
    async with rt.sessions.begin() as session:
        session.add_all(rows)

    async def everything(who: Tenant, **params: Any) -> tuple[list[str], int]:
        seen: list[str] = []
        page, total = 1, -1
        while True:
            env = await who.client.query_records(current=page, size=4, **WINDOW, **params)
            assert env.code == "0", env.reason
            total = env.data["total"]
            if not env.data["records"]:
                return seen, total
            seen += [r["voiceId"] for r in env.data["records"]]
            page += 1

    alice, alice_total = await everything(tenant)
    mallory, mallory_total = await everything(other_tenant)
    assert alice == [f"26030208000000001{i:02d}" for i in range(0, 12, 2)] and alice_total == 6
    assert mallory == [f"26030208000000001{i:02d}" for i in range(1, 12, 2)]
    assert mallory_total == 6
    # filtering by the other account's task id finds nothing either
    assert await everything(tenant, taskId=101) == ([], 0)
    assert (await everything(other_tenant, taskId=101))[1] == 6


async def test_a_send_with_another_accounts_app_or_file_stores_nothing_and_is_minus_32_or_24(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    alices_file = (await tenant.client.upload_file("alice.mp3", audio_b64("mp3", 0.3))).data
    mallorys_file = (
        await other_tenant.client.upload_file("mallory.mp3", audio_b64("mp3", 0.3))
    ).data
    mallory = other_tenant.client
    attempts = [
        await mallory.send_code(
            callee="8613000000000", language="EN", text="x", appId=tenant.app_id
        ),
        await mallory.send_group(
            callee="8613000000000", fileId=alices_file, appId=other_tenant.app_id
        ),
        await mallory.send_group(callee="8613000000000", fileId=mallorys_file, appId=tenant.app_id),
    ]
    # an app that is not the caller's is -32 (checked before the file), a foreign file -24
    assert [a.code for a in attempts] == ["-32", "-24", "-32"]
    assert "appId" in attempts[0].reason and "fileId" in attempts[1].reason
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Task)) == 0
