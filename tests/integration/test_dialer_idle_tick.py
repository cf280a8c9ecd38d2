"""An idle dialer tick's database work (issue 17): the statements and transactions one tick
sends when there is nothing to do, counted at the engine (docs/performance.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from tests.conftest import START
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.dialer.engine import Dialer
from voxcast.runtime import open_runtime
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
