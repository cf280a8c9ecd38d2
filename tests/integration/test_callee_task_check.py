"""A callee always names an existing task, on SQLite (its foreign key) and PostgreSQL (the
triggers that replaced the key there, migration 0015): a bulk insert as well as one row."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tests.integration.dialing import insert_task
from voxcast.runtime import Runtime
from voxcast.services import accounts, tasks
from voxcast.storage.models import Callee, Task

#: PostgreSQL's COPY goes straight through the driver, whose error SQLAlchemy never sees
REFUSED = (IntegrityError, asyncpg.ForeignKeyViolationError)


async def a_task(rt: Runtime) -> int:
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal(10)
        )
    return await insert_task(rt, creds.account_id, creds.app_id, ["8613000000001"])


async def callee_count(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return len((await session.scalars(select(Callee.id))).all())


async def test_bulk_callees_of_a_task_that_does_not_exist_are_refused(rt: Runtime) -> None:
    task_id = await a_task(rt)
    numbers: list[tasks.Number] = [("8613000000002", {"text1": "a"}), ("8613000000003", None)]
    with pytest.raises(REFUSED):
        async with rt.sessions.begin() as session:
            await tasks.insert_numbers(session, task_id + 1, numbers, [Decimal("0.02")] * 2)
    assert await callee_count(rt) == 1
    async with rt.sessions.begin() as session:
        await tasks.insert_numbers(session, task_id, numbers, [Decimal("0.02")] * 2)
    assert await callee_count(rt) == 3


async def test_one_bad_row_among_good_ones_refuses_the_whole_insert(rt: Runtime) -> None:
    task_id = await a_task(rt)
    with pytest.raises(IntegrityError):
        async with rt.sessions.begin() as session:
            await session.execute(
                Callee.__table__.insert(),  # type: ignore[attr-defined]
                [
                    {"task_id": tid, "seq": i, "callee": f"861300000001{i}", "state": 0}
                    for i, tid in enumerate([task_id, task_id + 7, task_id])
                ],
            )
    assert await callee_count(rt) == 1


async def test_a_callee_cannot_move_to_a_task_that_does_not_exist(rt: Runtime) -> None:
    task_id = await a_task(rt)
    with pytest.raises(IntegrityError):
        async with rt.sessions.begin() as session:
            await session.execute(update(Callee).values(task_id=task_id + 1))
    async with rt.sessions.begin() as session:
        # the dialer's updates leave task_id alone and pass
        await session.execute(update(Callee).values(state=1, attempts=1))


async def test_a_task_with_callees_cannot_be_deleted_or_renumbered(rt: Runtime) -> None:
    task_id = await a_task(rt)
    with pytest.raises(IntegrityError):
        async with rt.sessions.begin() as session:
            await session.execute(delete(Task).where(Task.id == task_id))
    with pytest.raises(IntegrityError):
        async with rt.sessions.begin() as session:
            await session.execute(update(Task).where(Task.id == task_id).values(id=task_id + 5))
    async with rt.sessions.begin() as session:
        await session.execute(update(Task).where(Task.id == task_id).values(task_name="renamed"))
        await session.execute(delete(Callee).where(Callee.task_id == task_id))
        await session.execute(delete(Task).where(Task.id == task_id))
    async with rt.sessions() as session:
        assert await session.scalar(select(Task.id)) is None
