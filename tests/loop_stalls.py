"""How long the test process's event loop did not run during a test. A stalled loop reads the
far end's packets late (they wait in the socket), so real-time checks allow for it."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

import pytest

#: the watcher's pace; a wake-up later than `GRACE_S` beyond it counts whole as a stall
TICK_S = 0.01
GRACE_S = 0.05


class LoopStalls:
    """`total_s`: the sum of this loop's stalls since the watcher started."""

    def __init__(self) -> None:
        self.total_s = 0.0

    def seconds(self, least: int, most: int) -> range:
        """A record's whole seconds from `least` to `most`, `most` later by the stalls seen
        (a far end's BYE waited in the socket for them)."""
        return range(least, most + math.ceil(self.total_s) + 1)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            late = loop.time() - before - TICK_S
            if late > GRACE_S:
                self.total_s += late


@pytest.fixture
async def loop_stalls() -> AsyncIterator[LoopStalls]:
    """Watches the test's own loop for the whole test."""
    stalls = LoopStalls()
    watcher = asyncio.create_task(stalls.watch(), name="loop-stalls")
    try:
        yield stalls
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
