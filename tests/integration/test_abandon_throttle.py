"""Proportional dialing's abandon-rate brake (docs/callcenter.md): over the task's last 100
transfers, an abandon rate above 3% lowers its calls per free agent to
calloutRate x 3% / rate (never under one); at or under 3% it dials at calloutRate; the calls
still waiting for an agent, on every worker, are taken off. Exact values, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import insert, select, update

from tests.integration.dialing import insert_task
from voxcast.dialer import store
from voxcast.dialer.desk import DbAgentDesk, room_left
from voxcast.domain.enums import CalleeState
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents
from voxcast.storage.models import Callee, CcRecord, Task


async def proportional_task(rt: Runtime, free_agents: int) -> tuple[int, int, int]:
    """An account with an agent group of `free_agents` (virtual: all free) and two tasks."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="cc", balance=Decimal(10)
        )
        group = await agents.add_group(session, creds.account_id, creds.app_id, "desk", now)
        await agents.add_agents(
            session, rt.secrets, creds.account_id, group.id, free_agents, None, None, now
        )
    params = {"toSeat": 1, "sipGroupId": group.id, "outboundControl": 1}
    task = await insert_task(rt, creds.account_id, creds.app_id, ["8613000000000"], params=params)
    other = await insert_task(rt, creds.account_id, creds.app_id, ["8613000000000"], params=params)
    return task, other, group.id


async def transfers(
    rt: Runtime, task_id: int, abandoned: list[bool], *, transferred: bool = True, start: int = 0
) -> None:
    """Call-center records of the task, one a minute from minute `start` (newest last)."""
    t0 = rt.clock.now()
    async with rt.sessions() as session:
        owner, app = (
            await session.execute(select(Task.account_id, Task.app_id).where(Task.id == task_id))
        ).one()
    rows = [
        {
            "call_session_id": f"s{task_id}-{start + i}-{int(transferred)}",
            "account_id": owner,
            "app_id": app,
            "task_id": task_id,
            "called": "8613000000000",
            "abandoned": gave_up,
            "call_start_time": t0 + timedelta(minutes=start + i),
            "transfer_time": t0 + timedelta(minutes=start + i, seconds=5) if transferred else None,
        }
        for i, gave_up in enumerate(abandoned)
    ]
    async with rt.sessions.begin() as session:
        await session.execute(insert(CcRecord), rows)


def pattern(abandoned: int, total: int = 100) -> list[bool]:
    return [i < abandoned for i in range(total)]


async def test_no_transfers_yet_dials_at_the_callout_rate(rt: Runtime) -> None:
    task, _other, group = await proportional_task(rt, 4)
    desk = DbAgentDesk(rt, virtual=True)
    assert await desk.dial_ratio(task, 3) == 3
    assert await desk.room(task, group, 3, in_flight=0) == 12
    assert await desk.room(task, group, 3, in_flight=5) == 7
    assert await desk.room(task, group, 3, in_flight=20) == 0


async def test_at_the_cap_the_rate_is_kept_and_over_it_scaled_down(rt: Runtime) -> None:
    task, other, group = await proportional_task(rt, 4)
    desk = DbAgentDesk(rt, virtual=True)
    await transfers(rt, task, pattern(3))  # exactly 3%
    assert await desk.dial_ratio(task, 3) == 3
    await transfers(rt, other, pattern(6))  # 6%: half the calls per agent
    assert await desk.dial_ratio(other, 3) == Fraction(3, 2)
    assert await desk.room(other, group, 3, in_flight=1) == 5  # 1.5 x 4 agents, less 1


async def test_the_ratio_never_drops_under_one_call_per_free_agent(rt: Runtime) -> None:
    task, _other, group = await proportional_task(rt, 4)
    desk = DbAgentDesk(rt, virtual=True)
    await transfers(rt, task, pattern(50))
    assert await desk.dial_ratio(task, 3) == 1
    assert await desk.room(task, group, 3, in_flight=0) == 4


async def test_only_the_last_100_transfers_count(rt: Runtime) -> None:
    task, _other, _group = await proportional_task(rt, 4)
    desk = DbAgentDesk(rt, virtual=True)
    await transfers(rt, task, [True] * 50)  # long ago: all abandoned
    await transfers(rt, task, [False] * 100, start=50)  # the last 100: none
    assert await desk.dial_ratio(task, 3) == 3
    await transfers(rt, task, [True] * 12, start=150)  # now 12 of the last 100
    assert await desk.dial_ratio(task, 9) == Fraction(9, 4)  # 9 x 3% / 12%


async def test_calls_that_never_reached_the_agent_queue_do_not_count(rt: Runtime) -> None:
    task, _other, _group = await proportional_task(rt, 4)
    desk = DbAgentDesk(rt, virtual=True)
    await transfers(rt, task, pattern(6))
    # unanswered calls: never transferred, so neither waited nor abandoned
    await transfers(rt, task, [False] * 100, transferred=False, start=100)
    assert await desk.dial_ratio(task, 3) == Fraction(3, 2)


async def test_the_room_is_exact_where_floats_would_floor_one_short(rt: Runtime) -> None:
    task, _other, group = await proportional_task(rt, 1)
    desk = DbAgentDesk(rt, virtual=True)
    await transfers(rt, task, pattern(5))  # 5%: 5 x 3% / 5% = exactly 3 per agent
    assert await desk.dial_ratio(task, 5) == 3
    assert await desk.room(task, group, 5, in_flight=0) == 3


async def test_calls_waiting_on_any_worker_count_against_the_allowance(rt: Runtime) -> None:
    task, _other, group = await proportional_task(rt, 2)
    desk = DbAgentDesk(rt, virtual=True)
    numbers = [f"86130000000{i:02d}" for i in range(6)]
    crowded = await insert_task(
        rt, *await _owner(rt, task), numbers, params=await _params(rt, task)
    )
    now = rt.clock.now()
    lease = now + timedelta(minutes=5)
    async with rt.sessions.begin() as session:
        # two workers each hold calls of the task, one of them already with an agent
        mine = await store.claim(session, crowded, 2, now, "node-a:1:x", lease)
        theirs = await store.claim(session, crowded, 1, now, "node-b:2:y", lease)
        await store.agent_answered(session, mine[0].id, now)
    assert await desk.allowance(crowded, group, 3) == 6  # 3 per free agent, 2 agents
    async with rt.sessions() as session:
        waiting = await store.waiting_callees(session, crowded)
    assert waiting == 2  # one of node a's, node b's: the one with its agent waits no more
    assert room_left(6, waiting) == 4
    assert room_left(6, 7) == 0
    # a new attempt at a callee whose last one reached an agent waits again
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Callee).where(Callee.id == mine[0].id).values(state=CalleeState.PENDING)
        )
        again = await store.claim(session, crowded, 1, now, "node-b:2:y", lease)
    assert [c.id for c in again] == [mine[0].id] and theirs[0].id != mine[0].id
    async with rt.sessions() as session:
        assert await store.waiting_callees(session, crowded) == 3


async def _owner(rt: Runtime, task_id: int) -> tuple[int, str]:
    async with rt.sessions() as session:
        account, app = (
            await session.execute(select(Task.account_id, Task.app_id).where(Task.id == task_id))
        ).one()
    return int(account), str(app)


async def _params(rt: Runtime, task_id: int) -> dict[str, object]:
    async with rt.sessions() as session:
        params = await session.scalar(select(Task.params).where(Task.id == task_id))
    return dict(params or {})
