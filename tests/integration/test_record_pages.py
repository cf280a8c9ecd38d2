"""The console's records pages (services.overview.record_page): newest first with ties by
voiceId, every record on exactly one page, deep pages included, and filters by task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from tests.conftest import Tenant
from voxcast.runtime import Runtime
from voxcast.services import overview
from voxcast.storage.models import CallRecord

pytestmark = pytest.mark.timeout(60)


async def _records(rt: Runtime, tenant: Tenant, count: int) -> list[dict[str, Any]]:
    """`count` records of two tasks, three at each submit time (ties ordered by voice_id)."""
    start = rt.clock.now() - timedelta(hours=1)
    rows = [
        {
            "voice_id": f"v{(i * 7919) % count:05d}",
            "account_id": tenant.creds.account_id,
            "app_id": tenant.app_id,
            "task_id": 1 + i % 2,
            "type": 1,
            "callee": f"8613{i:09d}",
            "submit_time": start + timedelta(seconds=i // 3),
        }
        for i in range(count)
    ]
    async with rt.sessions.begin() as session:
        await session.execute(insert(CallRecord), rows)
    return rows


def _newest_first(rows: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (r["submit_time"], r["voice_id"]), reverse=True)
    return [r["voice_id"] for r in ordered]


async def _pages(rt: Runtime, tenant: Tenant, flt: overview.RecordFilter, size: int) -> list[Any]:
    pages = []
    async with rt.sessions() as session:
        for page in range(1, 6):
            rows, total = await overview.record_page(
                session, tenant.creds.account_id, "UTC", flt, page=page, size=size
            )
            pages.append(([r.voice_id for r in rows], total))
    return pages


async def test_pages_hold_every_record_once_newest_first_deep_pages_included(
    rt: Runtime, tenant: Tenant
) -> None:
    rows = await _records(rt, tenant, 90)
    expected = _newest_first(rows)
    pages = await _pages(rt, tenant, overview.RecordFilter(), 25)
    assert [p[1] for p in pages] == [90] * 5
    assert [len(p[0]) for p in pages] == [25, 25, 25, 15, 0]
    assert [v for p in pages for v in p[0]] == expected


async def test_a_tasks_pages_hold_its_records_only(rt: Runtime, tenant: Tenant) -> None:
    rows = await _records(rt, tenant, 90)
    expected = _newest_first([r for r in rows if r["task_id"] == 2])
    pages = await _pages(rt, tenant, overview.RecordFilter(task_id=2), 20)
    assert [p[1] for p in pages] == [45] * 5
    assert [v for p in pages for v in p[0]] == expected
    other = await _pages(rt, tenant, overview.RecordFilter(task_id=3), 20)
    assert other[0] == ([], 0)
