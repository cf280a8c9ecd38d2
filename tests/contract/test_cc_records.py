"""POST /v3/cc/record/query (and the old /voice/ccRecordQuery): the §4.3 fields, filters,
paging, the 31-day window (-25), the time format (-11) and tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Tenant
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.storage.models import CcRecord


async def add_record(rt: Runtime, tenant: Tenant, clock: FixedClock, n: int, **kw: Any) -> None:
    start = clock.now() - timedelta(minutes=10 - n)
    values: dict[str, Any] = {
        "call_session_id": f"2611240000000{n:06d}",
        "account_id": tenant.creds.account_id,
        "app_id": tenant.app_id,
        "task_id": 7,
        "called": f"86130000000{n:02d}",
        "agent_name": f"{tenant.app_id}_001",
        "agent_group_name": "sales",
        "call_duration": 12,
        "call_type": 1,
        "hangup_code": 200,
        "hangup_reason": 3,
        "hanging_direction": 1,
        "no_answer_agents": [],
        "base_cost": Decimal("0.02"),
        "cost": Decimal("0.02"),
        "abandoned": False,
        "call_start_time": start,
        "answer_time": start + timedelta(seconds=3),
        "agent_answer_time": start + timedelta(seconds=8),
        "call_end_time": start + timedelta(seconds=20),
    }
    values.update(kw)
    async with rt.sessions.begin() as session:
        session.add(CcRecord(**values))


def window(clock: FixedClock, days: int = 1) -> dict[str, str]:
    """The last `days` days, written in UTC+8 as the records show their times."""
    end = clock.now().astimezone(timezone(timedelta(hours=8)))
    return {
        "startTime": (end - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S"),
        "endTime": end.strftime("%Y-%m-%d %H:%M:%S"),
    }


async def query(tenant: Tenant, path: str = "/v3/cc/record/query", **params: Any) -> Any:
    if path == "/v3/cc/record/query":
        return await tenant.client.query_cc_records(size=10, **params)
    return await tenant.client._acall("POST", path, {"current": 1, "size": 10, "params": params})


@pytest.mark.parametrize("path", ["/v3/cc/record/query", "/voice/ccRecordQuery"])
async def test_records_come_with_the_push_fields_newest_first_code_0(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime, clock: FixedClock, path: str
) -> None:
    await add_record(rt, tenant, clock, 1)
    await add_record(rt, tenant, clock, 2, hangup_reason=2, hanging_direction=0, abandoned=True,
                     agent_name=None, agent_group_name=None)  # fmt: skip
    await add_record(rt, other_tenant, clock, 3)
    env = await query(tenant, path, **window(clock))
    assert env.code == "0" and env.data["total"] == 2
    newest, oldest = env.data["records"]
    assert newest["callSessionId"].endswith("000002") and newest["abandoned"] is True
    assert oldest["agentName"] == f"{tenant.app_id}_001" and oldest["hangupReason"] == 3
    assert oldest["callDuration"] == 12 and oldest["cost"] == "0.020000"
    assert len(oldest["callStartTime"]) == 19  # "yyyy-MM-dd HH:mm:ss"


async def test_filters_narrow_the_records(tenant: Tenant, rt: Runtime, clock: FixedClock) -> None:
    await add_record(rt, tenant, clock, 1)
    await add_record(rt, tenant, clock, 2, hangup_reason=2, hanging_direction=0)
    env = await query(tenant, **window(clock), hangupReason=[2])
    assert [r["hangupReason"] for r in env.data["records"]] == [2]
    env = await query(tenant, **window(clock), hangingDirection=[1])
    assert [r["hangingDirection"] for r in env.data["records"]] == [1]
    env = await query(tenant, **window(clock), calledOrCaller="8613000000001")
    assert [r["called"] for r in env.data["records"]] == ["8613000000001"]
    env = await query(tenant, **window(clock), seatNameList=["nobody"])
    assert env.data["total"] == 0


async def test_a_window_over_31_days_is_minus_25(tenant: Tenant, clock: FixedClock) -> None:
    env = await query(tenant, **window(clock, days=40))
    assert env.code == "-25"


async def test_bad_times_and_missing_params_are_named(tenant: Tenant, clock: FixedClock) -> None:
    env = await query(tenant, startTime="soon", endTime="2026-01-01 00:00:00")
    assert env.code == "-11" and "startTime" in env.reason
    env = await tenant.client._acall("POST", "/v3/cc/record/query", {"current": 1})
    assert env.code == "-22" and "params" in env.reason


async def test_a_window_without_offset_is_read_in_utc8_the_zone_records_are_shown_in(
    tenant: Tenant, rt: Runtime, clock: FixedClock
) -> None:
    # 17:30 UTC on March 2 is 01:30 on March 3 in UTC+8
    at = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    await add_record(rt, tenant, clock, 1, call_start_time=at, answer_time=None,
                     agent_answer_time=None, call_end_time=at + timedelta(seconds=20))  # fmt: skip

    async def found(start: str, end: str) -> list[str | None]:
        env = await query(tenant, startTime=start, endTime=end)
        assert env.code == "0"
        return [r["callStartTime"] for r in env.data["records"]]

    assert await found("2026-03-03 00:00:00", "2026-03-03 23:59:59") == ["2026-03-03 01:30:00"]
    assert await found("2026-03-02 00:00:00", "2026-03-02 23:59:59") == []
    # an explicit offset still means what it says
    assert await found("2026-03-02T17:30:00Z", "2026-03-02T17:30:00Z") == ["2026-03-03 01:30:00"]
    assert await found("2026-03-02T00:00:00+00:00", "2026-03-02T17:29:59+00:00") == []
