"""Recall flows round by round (the scheduler on a fixed clock, calls simulated on the callee
rows), on SQLite and PostgreSQL: when each round runs (the interval after the previous one
ended), which numbers it calls (failed only, or all), an empty round, a round whose task
cannot be submitted, and per-node overrides that apply to their own round only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from tests.integration.dialing import insert_task
from voxcast.clock import FixedClock
from voxcast.dialer import scheduler
from voxcast.domain.enums import CalleeState, RecallStatus, RecallType, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates, recall
from voxcast.storage.models import Callee, CallRecord, RecallFlow, RecallNode, Task

ANSWERS = "8613000000000"
BUSY = "8613000000005"
WRONG = "8613000000007"
PARENT_TEXT = "Hello, this is a reminder about your appointment tomorrow."
INTERVAL = 2  # minutes


@dataclass
class Flow:
    account_id: int
    parent_id: int
    flow_id: int


async def flow_after(
    rt: Runtime,
    recall_type: RecallType,
    recall_num: int,
    outcomes: dict[str, bool],
    nodes: list[dict[str, Any]] | None = None,
    intents: list[str] | None = None,
) -> Flow:
    """A calling task whose callees were called with `outcomes` (number: answered) and its
    pending recall flow; rates 0.02 for 86 (frozen on the callees, as intake does)."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="recall", balance=Decimal(10)
        )
        await rates.set_rate(session, creds.account_id, "86", Decimal("0.02"))
    parent = await insert_task(
        rt, creds.account_id, creds.app_id, list(outcomes), status=TaskStatus.CALLING
    )
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Callee).where(Callee.task_id == parent).values(rate=Decimal("0.02"))
        )
        flow_id = await recall.create_flow(
            session,
            creds.account_id,
            parent,
            {
                "recallType": int(recall_type),
                "recallInterval": INTERVAL,
                "recallNum": recall_num,
                "nodeList": nodes or [],
                "recallIntent": intents,
            },
            now,
        )
    await called(rt, parent, outcomes)
    return Flow(creds.account_id, parent, flow_id)


async def called(rt: Runtime, task_id: int, outcomes: dict[str, bool]) -> None:
    """The task's callees were dialed with these outcomes (as the dialer and recorder leave
    them), and the task was calling."""
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Task).where(Task.id == task_id).values(status=TaskStatus.CALLING)
        )
        for number, answered in outcomes.items():
            await session.execute(
                update(Callee)
                .where(Callee.task_id == task_id, Callee.callee == number)
                .values(state=CalleeState.DONE, attempts=1, success=answered)
            )


async def advance(rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await scheduler.advance(session, rt.clock.now())


async def nodes_of(rt: Runtime, flow_id: int) -> list[RecallNode]:
    async with rt.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(RecallNode).where(RecallNode.flow_id == flow_id).order_by(RecallNode.seq)
                )
            ).all()
        )


async def flow_row(rt: Runtime, flow_id: int) -> RecallFlow:
    async with rt.sessions() as session:
        flow = await session.get(RecallFlow, flow_id)
    assert flow is not None
    return flow


async def task_row(rt: Runtime, task_id: int | None) -> Task:
    assert task_id is not None
    async with rt.sessions() as session:
        task = await session.get(Task, task_id)
    assert task is not None
    return task


async def callees_of(rt: Runtime, task_id: int | None) -> list[tuple[str, Decimal | None]]:
    async with rt.sessions() as session:
        rows = await session.execute(
            select(Callee.callee, Callee.rate).where(Callee.task_id == task_id).order_by(Callee.seq)
        )
        return [(n, r) for n, r in rows]


def at(start: datetime, minutes: float) -> datetime:
    return start + timedelta(minutes=minutes)


async def test_rounds_run_an_interval_after_the_previous_round_ended(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    flow = await flow_after(rt, RecallType.FAILED, 2, {ANSWERS: True, BUSY: False, WRONG: False})
    await advance(rt)  # the parent is finished now: round 1 is due an interval later
    assert (await task_row(rt, flow.parent_id)).finished_at == t0
    assert (await flow_row(rt, flow.flow_id)).status == RecallStatus.IN_PROGRESS
    first, second = await nodes_of(rt, flow.flow_id)
    assert (first.run_at, second.run_at) == (at(t0, INTERVAL), None)

    clock.set(at(t0, INTERVAL) - timedelta(seconds=1))
    await advance(rt)
    assert (await nodes_of(rt, flow.flow_id))[0].task_id is None
    clock.set(at(t0, INTERVAL))
    await advance(rt)
    first, second = await nodes_of(rt, flow.flow_id)
    assert first.status == RecallStatus.IN_PROGRESS and second.run_at is None
    child = await task_row(rt, first.task_id)
    assert child.status == TaskStatus.SUBMITTING and child.created_at == at(t0, INTERVAL)
    assert child.parent_task_id == flow.parent_id and child.recall_node_id == first.id
    assert await callees_of(rt, child.id) == [(BUSY, Decimal("0.02")), (WRONG, Decimal("0.02"))]

    # round 1 takes three minutes; round 2 (its failures only) is due two after it ended
    await called(rt, child.id, {BUSY: True, WRONG: False})
    clock.set(at(t0, INTERVAL + 3))
    await advance(rt)
    first, second = await nodes_of(rt, flow.flow_id)
    assert first.status == RecallStatus.COMPLETED
    assert second.run_at == at(t0, INTERVAL + 3 + INTERVAL)
    assert (await flow_row(rt, flow.flow_id)).finish_num == 1
    clock.set(at(t0, 2 * INTERVAL + 3))
    await advance(rt)
    second = (await nodes_of(rt, flow.flow_id))[1]
    assert await callees_of(rt, second.task_id) == [(WRONG, Decimal("0.02"))]
    assert (await task_row(rt, second.task_id)).task_name.endswith("-recall-2")  # type: ignore[union-attr]

    await called(rt, second.task_id or 0, {WRONG: False})
    clock.advance(60)
    await advance(rt)
    done = await flow_row(rt, flow.flow_id)
    assert (done.status, done.finish_num) == (RecallStatus.COMPLETED, 2)
    assert [n.status for n in await nodes_of(rt, flow.flow_id)] == [RecallStatus.COMPLETED] * 2


async def test_recall_all_calls_every_number_of_the_previous_round(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    flow = await flow_after(rt, RecallType.ALL, 1, {ANSWERS: True, BUSY: False, WRONG: False})
    await advance(rt)
    clock.set(at(t0, INTERVAL))
    await advance(rt)
    (node,) = await nodes_of(rt, flow.flow_id)
    assert [n for n, _r in await callees_of(rt, node.task_id)] == [ANSWERS, BUSY, WRONG]


async def test_an_empty_round_completes_at_once_and_the_next_one_follows(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    flow = await flow_after(rt, RecallType.FAILED, 2, {ANSWERS: True})
    await advance(rt)
    clock.set(at(t0, INTERVAL))
    await advance(rt)  # nobody failed: no task, the round is done and the next one due
    first, second = await nodes_of(rt, flow.flow_id)
    assert (first.status, first.task_id) == (RecallStatus.COMPLETED, None)
    assert second.run_at == at(t0, 2 * INTERVAL)
    assert (await flow_row(rt, flow.flow_id)).status == RecallStatus.IN_PROGRESS
    clock.set(at(t0, 2 * INTERVAL))
    await advance(rt)
    second = (await nodes_of(rt, flow.flow_id))[1]
    assert (second.status, second.task_id) == (RecallStatus.COMPLETED, None)
    done = await flow_row(rt, flow.flow_id)
    assert (done.status, done.finish_num) == (RecallStatus.COMPLETED, 2)
    async with rt.sessions() as session:
        children = (
            await session.scalars(select(Task.id).where(Task.parent_task_id == flow.parent_id))
        ).all()
    assert children == []


async def test_a_round_whose_task_fails_is_an_exception_and_the_flow_goes_on(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    flow = await flow_after(rt, RecallType.FAILED, 2, {ANSWERS: True, BUSY: False, WRONG: False})
    await advance(rt)
    clock.set(at(t0, INTERVAL))
    await advance(rt)
    first = (await nodes_of(rt, flow.flow_id))[0]
    # its speech cannot be rendered: the dialer fails the round's task (status 3)
    failed_at = at(t0, INTERVAL + 1)
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Task)
            .where(Task.id == first.task_id)
            .values(status=TaskStatus.SUBMIT_FAILED, finished_at=failed_at)
        )
    clock.set(failed_at)
    await advance(rt)
    first, second = await nodes_of(rt, flow.flow_id)
    assert first.status == RecallStatus.EXCEPTION
    assert second.run_at == at(t0, 2 * INTERVAL + 1)
    assert (await flow_row(rt, flow.flow_id)).status == RecallStatus.IN_PROGRESS
    clock.set(at(t0, 2 * INTERVAL + 1))
    await advance(rt)
    second = (await nodes_of(rt, flow.flow_id))[1]
    # round 1 reached nobody: round 2 calls the numbers it was to call
    assert [n for n, _r in await callees_of(rt, second.task_id)] == [BUSY, WRONG]
    await called(rt, second.task_id or 0, {BUSY: False, WRONG: False})
    clock.advance(60)
    await advance(rt)
    done = await flow_row(rt, flow.flow_id)
    assert [n.status for n in await nodes_of(rt, flow.flow_id)] == [
        RecallStatus.EXCEPTION,
        RecallStatus.COMPLETED,
    ]
    assert (done.status, done.finish_num) == (RecallStatus.EXCEPTION, 1)


async def test_a_nodes_overrides_apply_to_its_own_round_only(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    override = {
        "source": 3,
        "text": "Second notice: please call us back.",
        "hangUpSms": 1,
        "smsAppId": "sms1",
        "senderId": "ACME",
        "smsContent": "We missed you",
    }
    flow = await flow_after(
        rt, RecallType.FAILED, 2, {ANSWERS: True, BUSY: False}, nodes=[override]
    )
    await advance(rt)
    clock.set(at(t0, INTERVAL))
    await advance(rt)
    first = (await nodes_of(rt, flow.flow_id))[0]
    child1 = await task_row(rt, first.task_id)
    assert child1.text == "Second notice: please call us back." and child1.source == 3
    assert {k: child1.params.get(k) for k in ("hangUpSms", "smsContent", "senderId")} == {
        "hangUpSms": 1,
        "smsContent": "We missed you",
        "senderId": "ACME",
    }
    await called(rt, child1.id, {BUSY: False})
    clock.advance(60)
    await advance(rt)
    clock.advance(INTERVAL * 60)
    await advance(rt)
    second = (await nodes_of(rt, flow.flow_id))[1]
    child2 = await task_row(rt, second.task_id)
    # node 2 has no overrides: it repeats the parent task as it was
    assert child2.text == PARENT_TEXT
    assert "smsContent" not in child2.params and "hangUpSms" not in child2.params
    assert await callees_of(rt, child2.id) == [(BUSY, Decimal("0.02"))]


async def ended_on(rt: Runtime, task_id: int, levels: dict[str, str | None]) -> None:
    """Each number's call was a robot's conversation that ended on this intent level."""
    async with rt.sessions.begin() as session:
        callees = dict(
            (
                await session.execute(
                    select(Callee.callee, Callee.id).where(Callee.task_id == task_id)
                )
            )
            .tuples()
            .all()
        )
        task = await session.get(Task, task_id)
        assert task is not None
        for i, (number, level) in enumerate(levels.items()):
            await session.execute(
                insert(CallRecord).values(
                    voice_id=f"26030209000000{task_id:03d}{i}",
                    account_id=task.account_id,
                    app_id=task.app_id,
                    task_id=task_id,
                    callee_id=callees[number],
                    callee=number,
                    type=1,
                    submit_time=rt.clock.now(),
                    call_time=rt.clock.now(),
                    conversation={"intent_level": level, "turns": []},
                )
            )


async def test_an_ai_flows_recall_intent_calls_back_only_those_ending_on_it(
    rt: Runtime, clock: FixedClock
) -> None:
    t0 = clock.now()
    later, busy, wrong = "8613000000010", "8613000000020", "8613000000030"
    flow = await flow_after(
        rt,
        RecallType.FAILED,  # recallIntent decides, answered or not
        1,
        {later: True, busy: True, wrong: True},
        intents=["D", "E"],
    )
    await ended_on(rt, flow.parent_id, {later: "D", busy: "A", wrong: "F"})
    await advance(rt)
    clock.set(at(t0, INTERVAL))
    await advance(rt)
    (node,) = await nodes_of(rt, flow.flow_id)
    assert [n for n, _r in await callees_of(rt, node.task_id)] == [later]
    assert (await flow_row(rt, flow.flow_id)).recall_intents == ["D", "E"]
