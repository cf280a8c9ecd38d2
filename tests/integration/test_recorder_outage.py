"""The recorder through a database outage, on sessions that fail on demand: results wait (in
memory up to the bound, then in the spill file), are written exactly once when the database is
back, and a batch whose commit succeeded but whose acknowledgement was lost is not written twice."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.dialing import insert_task, wait_for
from voxcast.dialer import recorder as recorder_module
from voxcast.dialer import store
from voxcast.dialer.context import AccountLimits, TaskContext
from voxcast.dialer.recorder import Finished, Recorder
from voxcast.domain.callresult import CallFacts
from voxcast.ports import HangupBy
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, CallRecord, Task


class FlakySessions:
    """A runtime's sessions that fail before any work while `down`, or right after a
    successful commit `lose_ack` times (the acknowledgement lost with the connection)."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.down = True
        self.lose_ack = 0
        self.failures = 0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.down:
            self.failures += 1
            raise OperationalError("BEGIN", {}, ConnectionRefusedError("connection refused"))
        async with self.real.begin() as session:
            yield session
        if self.lose_ack:
            self.lose_ack -= 1
            self.failures += 1
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection reset"))


async def claimed_calls(
    rt: Runtime, owner: str, numbers: list[str]
) -> tuple[int, int, list[Finished]]:
    """An account billed per second at 0.06/min, a task of `numbers` leased to `owner`, and
    each call's result: answered, 10 s of talk (cost 0.010000)."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, now, name="spill", balance=Decimal(100)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.06"))
        await session.execute(
            update(Account).where(Account.id == creds.account_id).values(bill_period="1+1")
        )
    task_id = await insert_task(rt, creds.account_id, creds.app_id, numbers)
    async with rt.sessions.begin() as session:
        got = await store.claim(
            session, task_id, len(numbers), now, owner, now + timedelta(minutes=5)
        )
        task = await session.get(Task, task_id)
        account = await session.get(Account, creds.account_id)
        assert task is not None and account is not None
        ctx, limits = TaskContext.of(task), AccountLimits.of(account)
    results = []
    for c in got:
        c.voice_id = f"v{c.id:08d}"
        facts = CallFacts(
            call_time=now,
            ringing_time=now + timedelta(seconds=1),
            answer_time=now + timedelta(seconds=3),
            hangup_time=now + timedelta(seconds=13),
            sip_code=200,
            hangup_by=HangupBy.US,
        )
        results.append(Finished(ctx, c, limits, facts))
    return creds.account_id, task_id, results


async def billed(rt: Runtime, account_id: int, task_id: int) -> tuple[list[Any], Decimal]:
    async with rt.sessions() as session:
        recs = (
            await session.execute(
                select(CallRecord.callee, CallRecord.call_duration, CallRecord.cost).where(
                    CallRecord.task_id == task_id
                )
            )
        ).all()
        balance = await session.scalar(select(Account.balance).where(Account.id == account_id))
    assert balance is not None
    return sorted(tuple(r) for r in recs), balance


async def test_results_wait_spill_and_are_written_once(rt: Runtime) -> None:
    numbers = [f"86130000000{i}0" for i in range(5)]
    account_id, task_id, results = await claimed_calls(rt, "w1", numbers)
    flaky = FlakySessions(rt.sessions)
    recorder = Recorder(dataclasses.replace(rt, sessions=flaky), "w1")  # type: ignore[arg-type]
    recorder.memory_limit = 2
    stop = asyncio.Event()
    runner = asyncio.create_task(recorder.run(stop))
    try:
        for item in results:
            recorder.submit(item)
        spill = recorder._spill.path

        async def spilled() -> bool:
            return spill.exists() and len(spill.read_text().splitlines()) == 3

        await wait_for(spilled, timeout=5)
        assert sorted(recorder.pending) == sorted(f.claimed.id for f in results)
        assert flaky.failures >= 1
        # back, but the first commit's acknowledgement is lost: the retry must skip it
        flaky.down = False
        flaky.lose_ack = 1
        recorder.poke()

        async def written() -> bool:
            return not recorder.pending

        await wait_for(written, timeout=15)
    finally:
        stop.set()
        await runner
    assert not spill.exists()
    recs, balance = await billed(rt, account_id, task_id)
    assert recs == [(n, 10, Decimal("0.010000")) for n in sorted(numbers)]
    assert balance == Decimal(100) - Decimal("0.05")
    assert recorder.written == 5


async def test_results_left_at_a_stop_during_an_outage_are_written_by_the_next_start(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "STOP_GRACE_S", 0.3)
    numbers = [f"86130000001{i}0" for i in range(3)]
    account_id, task_id, results = await claimed_calls(rt, "gone", numbers)
    flaky = FlakySessions(rt.sessions)
    first = Recorder(dataclasses.replace(rt, sessions=flaky), "gone")  # type: ignore[arg-type]
    first.memory_limit = 0  # all through the file: a failed read is handed out again, once
    stop = asyncio.Event()
    stop.set()
    for item in results:
        first.submit(item)
    await asyncio.wait_for(first.run(stop), timeout=10)  # gives up waiting, keeps the file
    left = first._spill.path
    assert len(left.read_text().splitlines()) == 3
    assert (await billed(rt, account_id, task_id))[0] == []

    second = Recorder(rt, "next")
    stop = asyncio.Event()
    runner = asyncio.create_task(second.run(stop))
    try:

        async def written() -> bool:
            return len((await billed(rt, account_id, task_id))[0]) == 3

        await wait_for(written, timeout=10)
    finally:
        stop.set()
        await runner
    assert not left.exists()
    recs, balance = await billed(rt, account_id, task_id)
    assert recs == [(n, 10, Decimal("0.010000")) for n in sorted(numbers)]
    assert balance == Decimal(100) - Decimal("0.03")
