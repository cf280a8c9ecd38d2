"""Do-not-call lists over the signed API (a voxcast extension): spellings of one number are one
entry, every change is audited with its source, lists never leak between accounts, and a new
task leaves listed numbers out, counting them (detail's dncCount)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Tenant, add_seat_group
from tests.contract.group_call_support import finish, new_flow, new_task
from tests.integration.test_preview import workbook
from voxcast.clock import FixedClock
from voxcast.dialer import scheduler
from voxcast.runtime import Runtime
from voxcast.storage.models import Callee, Task


async def test_spellings_of_one_number_are_one_entry(tenant: Tenant) -> None:
    added = await tenant.client.dnc_add(["+86 130-0000-0001"])
    assert added.code == "0", added.reason
    assert added.data == {"added": ["+8613000000001"], "count": 1}
    again = await tenant.client.dnc_add(["0086 130 0000 0001", "8613000000001"])
    assert again.data == {"added": [], "count": 0}
    national = await tenant.client.dnc_add(["(202) 555-0100"], region="US")
    assert national.data["added"] == ["+12025550100"]
    found = await tenant.client.dnc_query(numbers=["+1 202 555 0100", "008613000000001"])
    assert sorted(r["number"] for r in found.data["records"]) == ["+12025550100", "+8613000000001"]
    assert found.data["total"] == 2


async def test_a_bad_number_is_minus_22_naming_it_and_nothing_is_added(tenant: Tenant) -> None:
    env = await tenant.client.dnc_add(["8613000000001", "12"])
    assert env.code == "-22" and "numbers[1]: 12: not a phone number" in env.reason, env.reason
    listed = await tenant.client.dnc_query()
    assert listed.data["total"] == 0


async def test_every_change_is_audited_with_its_source_and_key(tenant: Tenant) -> None:
    await tenant.client.dnc_add(["8613000000001"], app_id=tenant.app_id)
    await tenant.client.dnc_remove(["+8613000000001"], app_id=tenant.app_id)
    removed_again = await tenant.client.dnc_remove(["+8613000000001"], app_id=tenant.app_id)
    assert removed_again.data == {"removed": [], "count": 0}
    trail = await tenant.client.dnc_audit("8613000000001")
    assert [(r["action"], r["source"], r["appId"]) for r in trail.data] == [
        ("add", "api", tenant.app_id),
        ("remove", "api", tenant.app_id),
    ]
    assert all(r["actor"] == f"api key {tenant.creds.api_key}" for r in trail.data)


async def test_lists_are_the_accounts_own(tenant: Tenant, other_tenant: Tenant) -> None:
    await tenant.client.dnc_add(["8613000000001"])
    theirs = await other_tenant.client.dnc_query()
    assert theirs.data["total"] == 0
    assert (await other_tenant.client.dnc_audit()).data == []
    # another account's app is not a list one may write to (-32, as any foreign appId)
    foreign = await other_tenant.client.dnc_add(["8613000000002"], app_id=tenant.app_id)
    assert foreign.code == "-32"
    # and the other account's task still calls the number the first account listed
    env = await other_tenant.client.send_group_call(
        appId=other_tenant.app_id,
        taskName="theirs",
        source=3,
        text="Hi",
        lan="EN",
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": "8613000000001"}],
    )
    detail = await other_tenant.client.group_call_detail(int(env.data))
    assert (detail.data["numCnt"], detail.data["dncCount"]) == (1, 0)


async def test_a_new_task_leaves_listed_numbers_out_and_counts_them(
    rt: Runtime, tenant: Tenant
) -> None:
    await tenant.client.dnc_add(["+86 130 0000 0005"])  # the account's list
    await tenant.client.dnc_add(["8613000000007"], app_id=tenant.app_id)  # the app's list
    task_id = await new_task(
        tenant, numbers=["8613000000000", "8613000000005", "8613000000007", "8613000000009"]
    )
    detail = await tenant.client.group_call_detail(task_id)
    assert (detail.data["numCnt"], detail.data["dncCount"]) == (2, 2)
    async with rt.sessions() as session:
        kept = (await session.scalars(select(Callee.callee).where(Callee.task_id == task_id))).all()
    assert sorted(kept) == ["8613000000000", "8613000000009"]


async def test_a_task_whose_numbers_are_all_listed_is_not_an_error(tenant: Tenant) -> None:
    await tenant.client.dnc_add(["8613000000000", "8613000000005"])
    task_id = await new_task(tenant)
    detail = await tenant.client.group_call_detail(task_id)
    assert (detail.data["numCnt"], detail.data["dncCount"]) == (0, 2)


async def test_a_recall_round_leaves_out_numbers_listed_since(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    task_id, _flow, _nodes = await new_flow(tenant, recallInterval=1)
    await finish(rt, task_id, answered=set())  # both numbers failed
    await tenant.client.dnc_add(["8613000000005"], app_id=tenant.app_id)
    clock.advance(120)
    for _ in range(2):  # the flow starts, then its first round is due
        async with rt.sessions.begin() as session:
            await scheduler.advance(session, clock.now())
        clock.advance(120)
    async with rt.sessions() as session:
        child = await session.scalar(select(Task).where(Task.parent_task_id == task_id))
        assert child is not None
        numbers = (
            await session.scalars(select(Callee.callee).where(Callee.task_id == child.id))
        ).all()
    assert list(numbers) == ["8613000000000"]
    assert (child.num_cnt, child.dnc_skipped) == (1, 1)


async def test_a_preview_task_leaves_listed_numbers_out(rt: Runtime, tenant: Tenant) -> None:
    await add_seat_group(rt, tenant, 5000531)
    rows = [["Phone"], ["8613000000000"], ["8613000000005"], ["8613000000007"]]
    up = await tenant.client.upload_callee_list("list.xlsx", workbook(rows))
    assert up.code == "0", up.reason
    await tenant.client.dnc_add(["+86 130 0000 0005"])
    sent = await tenant.client.submit_preview_task(
        filePath=up.data["filePath"], fileName="list.xlsx", type=1, voiceGroupId=[5000531],
        appId=tenant.app_id, calloutRate=1,
    )  # fmt: skip
    assert sent.code == "0", sent.reason
    async with rt.sessions() as session:
        task = await session.get(Task, int(sent.data))
        assert task is not None
        numbers = (
            await session.scalars(select(Callee.callee).where(Callee.task_id == task.id))
        ).all()
    assert sorted(numbers) == ["8613000000000", "8613000000007"]
    assert (task.num_cnt, task.dnc_skipped) == (2, 1)
