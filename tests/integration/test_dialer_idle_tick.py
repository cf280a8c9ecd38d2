"""The dialer's database work counted at the engine (issue 17, docs/performance.md): an idle
tick's statements and transactions, and a batch of call records in one INSERT."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select

from tests.conftest import START
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.dialer import store
from voxcast.dialer.engine import Dialer
from voxcast.runtime import open_runtime
from voxcast.services import accounts
from voxcast.storage.models import CallRecord
from voxcast.telephony.sandbox import SandboxCarrier

#: statements of an idle tick: the scheduler's three task moves and its probe for recall
#: work, the submitted tasks, the calling tasks (the reaper's two only when a lease or seat
#: hold may have run out). Before issue 17's changes: 10 statements in 5 transactions.
IDLE_STATEMENTS = 6
IDLE_TRANSACTIONS = 1


class Counter:
    """Statements sent and transactions begun on an engine while `counting`."""

    def __init__(self) -> None:
        self.statements = 0
        self.transactions = 0
        self.counting = False

    def statement(self, _conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        # SQLite's BEGIN IMMEDIATE (storage/db.py) is the transaction's begin, counted there
        if self.counting and sql != "BEGIN IMMEDIATE":
            self.statements += 1

    def begin(self, *_args: Any) -> None:
        if self.counting:
            self.transactions += 1


async def test_an_idle_tick_sends_six_statements_in_one_transaction(settings: Settings) -> None:
    # holds renewed every half second, the reaper's first pass after 2 s and its next one
    # a second later (half the margin): the three ticks counted fall between them
    settings.lease_margin_seconds = 2.0
    clock = ScaledClock(1.0, start=START)
    rt = await open_runtime(settings, clock)
    counter = Counter()
    event.listen(rt.engine.sync_engine, "before_cursor_execute", counter.statement)
    event.listen(rt.engine.sync_engine, "begin", counter.begin)
    try:
        carrier = SandboxCarrier(clock)
        pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
        dialer = Dialer(rt, lambda _a: carrier, pool=pool, worker_id="idle-worker")
        await asyncio.sleep(2.05)  # past the reaper's margin after the dialer's start
        # the first tick renews the seats' holds and reaps (nothing held, nothing expired)
        assert await asyncio.wait_for(dialer.tick(), 10) == 0
        counts = []
        for _ in range(3):
            counter.statements = counter.transactions = 0
            counter.counting = True
            assert await asyncio.wait_for(dialer.tick(), 10) == 0
            counter.counting = False
            counts.append((counter.statements, counter.transactions))
    finally:
        await rt.close()
    assert counts == [(IDLE_STATEMENTS, IDLE_TRANSACTIONS)] * 3


async def test_a_batch_of_records_alike_but_for_their_nones_is_one_insert(
    settings: Settings,
) -> None:
    rt = await open_runtime(settings, ScaledClock(1.0, start=START))
    counter = Counter()
    event.listen(rt.engine.sync_engine, "before_cursor_execute", counter.statement)
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, START, name="acme", balance=Decimal(1)
            )
        base = {"account_id": creds.account_id, "app_id": creds.app_id, "type": 1}
        base |= {"callee": "8613000000000", "submit_time": START, "conversation": None}
        # None in turn in different columns: left out, each row would be a statement of its own
        rows = [
            base | {"voice_id": "v1", "feedback_value": None, "call_time": START},
            base | {"voice_id": "v2", "feedback_value": "1", "call_time": None},
            base
            | {
                "voice_id": "v3",
                "feedback_value": None,
                "call_time": None,
                "conversation": {"a": 1},
            },
        ]
        counter.counting = True
        async with rt.sessions.begin() as session:
            await store.add_call_records(session, rows)
        counter.counting = False
        async with rt.sessions() as session:
            stored = (
                await session.execute(
                    select(
                        CallRecord.voice_id,
                        CallRecord.feedback_value,
                        CallRecord.call_time,
                        CallRecord.conversation,
                        CallRecord.cost,
                    ).order_by(CallRecord.voice_id)
                )
            ).all()
    finally:
        await rt.close()
    assert counter.statements == 1
    # a None stores what leaving the column out stored: its default, or NULL
    assert [tuple(r) for r in stored] == [
        ("v1", "-1", START, None, Decimal(0)),
        ("v2", "1", None, None, Decimal(0)),
        ("v3", "-1", None, {"a": 1}, Decimal(0)),
    ]
