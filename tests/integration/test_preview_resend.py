"""Preview `resendTask` through the API, on SQLite and PostgreSQL: which numbers each
resendType calls again (1 failed only, 2 not called, 3 all), what is reset on them and what is
left alone, and the overrides (voiceGroupId, type, calloutRate, ccode, remark, displayNum)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from tests.conftest import Tenant, add_seat_group
from tests.integration.dialing import insert_task
from voxcast.domain.enums import CalleeState, TaskKind, TaskStatus
from voxcast.runtime import Runtime
from voxcast.storage.models import Callee, Task

ANSWERED, FAILED, NOT_CALLED = "8613000000000", "8613000000005", "8613000000009"
GROUP, OTHER_GROUP = 5000531, 5000532


async def ended_preview_task(rt: Runtime, tenant: Tenant, outcomes: dict[str, bool | None]) -> int:
    """A finished to-agent preview task whose callees were called with `outcomes` (number:
    answered; None: never called)."""
    await add_seat_group(rt, tenant, GROUP)
    await add_seat_group(rt, tenant, OTHER_GROUP)
    params: dict[str, Any] = {
        "toSeat": 1,
        "sipGroupId": GROUP,
        "voiceGroupIds": [GROUP],
        "toSeatType": 1,
        "outboundControl": 1,
        "calloutRate": 1,
        "previewType": 1,
        "filePath": "/cc/list.xlsx",
        "fileName": "list.xlsx",
        "ccode": "86",
        "remark": "first pass",
    }
    task_id = await insert_task(
        rt,
        tenant.creds.account_id,
        tenant.app_id,
        list(outcomes),
        params=params,
        kind=TaskKind.PREVIEW,
        task_name=None,
        display_num="111",
        status=TaskStatus.FINISHED,
        finished_at=rt.clock.now(),
    )
    async with rt.sessions.begin() as session:
        for i, (number, answered) in enumerate(outcomes.items()):
            if answered is None:
                continue
            await session.execute(
                update(Callee)
                .where(Callee.task_id == task_id, Callee.callee == number)
                .values(
                    state=CalleeState.DONE,
                    attempts=1,
                    success=answered,
                    sip_code=200 if answered else 486,
                    voice_id=f"2026030209000000{i:03d}",
                    next_attempt_at=rt.clock.now() + timedelta(hours=1),
                )
            )
    return task_id


async def callees(rt: Runtime, task_id: int) -> dict[str, tuple[int, int, bool | None, str | None]]:
    async with rt.sessions() as session:
        rows = await session.execute(
            select(
                Callee.callee, Callee.state, Callee.attempts, Callee.success, Callee.voice_id
            ).where(Callee.task_id == task_id)
        )
        return {n: (int(s), a, ok, v) for n, s, a, ok, v in rows}


async def task(rt: Runtime, task_id: int) -> Task:
    async with rt.sessions() as session:
        found = await session.get(Task, task_id)
    assert found is not None
    return found


async def test_resend_failed_only_calls_again_the_failed_numbers_alone(
    rt: Runtime, tenant: Tenant
) -> None:
    task_id = await ended_preview_task(
        rt, tenant, {ANSWERED: True, FAILED: False, NOT_CALLED: None}
    )
    before = await callees(rt, task_id)
    env = await tenant.client.resend_preview_task(taskId=task_id, resendType=1, type=1)
    assert env.code == "0", env.reason
    after = await callees(rt, task_id)
    assert after[FAILED] == (CalleeState.PENDING, 0, None, None)
    assert after[ANSWERED] == before[ANSWERED] == (CalleeState.DONE, 1, True, "2026030209000000000")
    assert after[NOT_CALLED] == before[NOT_CALLED] == (CalleeState.PENDING, 0, None, None)
    async with rt.sessions() as session:
        due = await session.scalar(
            select(Callee.next_attempt_at).where(Callee.task_id == task_id, Callee.callee == FAILED)
        )
    assert due is None  # due at once, not at the old redial time
    row = await task(rt, task_id)
    assert (row.status, row.finished_at) == (TaskStatus.WAITING, None)
    # nothing overridden: the task's settings stay as they were
    assert row.display_num == "111"
    assert {k: row.params[k] for k in ("sipGroupId", "voiceGroupIds", "calloutRate")} == {
        "sipGroupId": GROUP,
        "voiceGroupIds": [GROUP],
        "calloutRate": 1,
    }
    assert (row.params["ccode"], row.params["remark"], row.params["outboundControl"]) == (
        "86",
        "first pass",
        1,
    )


async def test_resend_not_called_and_all(rt: Runtime, tenant: Tenant) -> None:
    task_id = await ended_preview_task(
        rt, tenant, {ANSWERED: True, FAILED: False, NOT_CALLED: None}
    )
    env = await tenant.client.resend_preview_task(taskId=task_id, resendType=2, type=1)
    assert env.code == "0", env.reason
    after = await callees(rt, task_id)
    assert after[ANSWERED][:3] == (CalleeState.DONE, 1, True)
    assert after[FAILED][:3] == (CalleeState.DONE, 1, False)
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=TaskStatus.FINISHED)
        )
    env = await tenant.client.resend_preview_task(taskId=task_id, resendType=3, type=1)
    assert env.code == "0", env.reason
    assert set((await callees(rt, task_id)).values()) == {(CalleeState.PENDING, 0, None, None)}


async def test_resend_failed_with_no_failed_number_is_minus_42(rt: Runtime, tenant: Tenant) -> None:
    task_id = await ended_preview_task(rt, tenant, {ANSWERED: True, NOT_CALLED: None})
    env = await tenant.client.resend_preview_task(taskId=task_id, resendType=1, type=1)
    assert env.code == "-42"
    assert (await task(rt, task_id)).status == TaskStatus.FINISHED
    assert (await callees(rt, task_id))[ANSWERED][:3] == (CalleeState.DONE, 1, True)


async def test_resend_overrides_the_group_type_rate_and_labels(rt: Runtime, tenant: Tenant) -> None:
    task_id = await ended_preview_task(rt, tenant, {ANSWERED: True, FAILED: False})
    env = await tenant.client.resend_preview_task(
        taskId=task_id,
        resendType=1,
        type=0,
        voiceGroupId=[OTHER_GROUP],
        calloutRate=3,
        ccode="91",
        remark="second pass",
        displayNum="222",
    )
    assert env.code == "0", env.reason
    row = await task(rt, task_id)
    assert row.display_num == "222"
    picked = ("sipGroupId", "voiceGroupIds", "calloutRate", "ccode", "remark")
    assert {k: row.params[k] for k in picked} == {
        "sipGroupId": OTHER_GROUP,
        "voiceGroupIds": [OTHER_GROUP],
        "calloutRate": 3,
        "ccode": "91",
        "remark": "second pass",
    }
    # type 0 (automatic call): no longer paced by free agents
    assert (row.params["previewType"], row.params["outboundControl"]) == (0, 0)


async def test_resend_to_agents_takes_exactly_one_group(rt: Runtime, tenant: Tenant) -> None:
    task_id = await ended_preview_task(rt, tenant, {FAILED: False})
    env = await tenant.client.resend_preview_task(
        taskId=task_id, resendType=1, type=1, voiceGroupId=[GROUP, OTHER_GROUP]
    )
    assert env.code == "-22" and "voiceGroupId" in env.reason
    assert (await task(rt, task_id)).status == TaskStatus.FINISHED
    assert (await callees(rt, task_id))[FAILED][:3] == (CalleeState.DONE, 1, False)
