"""Helpers for dialer tests: a fast sandbox runtime, tasks inserted as the API stores them,
and waiting (bounded) for the dialer to reach a state."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.dialer.engine import Dialer
from voxcast.domain.enums import TaskKind, TaskStatus
from voxcast.ports import Call, Carrier, DialRequest
from voxcast.runtime import Runtime, open_runtime
from voxcast.storage.models import Callee, CallRecord, Task
from voxcast.telephony.sandbox import SandboxCarrier


@dataclass
class Rig:
    rt: Runtime
    clock: ScaledClock
    dialer: Dialer
    stop: asyncio.Event
    runner: asyncio.Task[None]


@asynccontextmanager
async def dialer_rig(
    settings: Settings,
    speed: float = 100.0,
    start: datetime | None = None,
    carrier: Callable[[ScaledClock], Carrier] = SandboxCarrier,
    wrap: Callable[[Carrier], Carrier] | None = None,
) -> AsyncIterator[Rig]:
    """A runtime on a scaled clock with a running dialer over the sandbox carrier (or the
    carrier `carrier` makes on the clock), or over what `wrap` makes of it."""
    settings.sandbox_speed = speed
    clock = ScaledClock(speed, start=start)
    rt = await open_runtime(settings, clock)
    the_carrier = carrier(clock)
    if wrap is not None:
        the_carrier = wrap(the_carrier)
    pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
    dialer = Dialer(rt, lambda _a: the_carrier, pool=pool, worker_id="test-worker")
    stop = asyncio.Event()
    runner = asyncio.create_task(dialer.run(stop))
    try:
        yield Rig(rt, clock, dialer, stop, runner)
    finally:
        stop.set()
        await runner
        await pool.aclose()
        await the_carrier.close()
        await rt.close()


async def insert_task(
    rt: Runtime,
    account_id: int,
    app_id: str,
    numbers: list[str],
    *,
    params: dict[str, Any] | None = None,
    infos: list[dict[str, Any] | None] | None = None,
    **columns: Any,
) -> int:
    """A task row and its callees, as the send endpoint stores them."""
    now = rt.clock.now()
    values: dict[str, Any] = {
        "account_id": account_id,
        "app_id": app_id,
        "kind": TaskKind.GROUP,
        "task_name": f"t-{time.monotonic_ns()}",
        "status": TaskStatus.WAITING,
        "source": 3,
        "text": "Hello, this is a reminder about your appointment tomorrow.",
        "lan": "EN",
        "loop_count": 1,
        "max_calls": 60,
        "max_ringing_time": 30,
        "num_cnt": len(numbers),
        "params": params or {},
        "created_at": now,
        "updated_at": now,
    }
    values.update(columns)
    async with rt.sessions.begin() as session:
        task = Task(**values)
        session.add(task)
        await session.flush()
        await session.execute(
            insert(Callee),
            [
                {
                    "task_id": task.id,
                    "seq": i,
                    "callee": n,
                    "info": (infos[i - 1] if infos else None),
                    "state": 0,
                    "attempts": 0,
                }
                for i, n in enumerate(numbers, start=1)
            ],
        )
        return task.id


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


async def task_status(rt: Runtime, task_id: int) -> int:
    async with rt.sessions() as session:
        status = await session.scalar(select(Task.status).where(Task.id == task_id))
        return -1 if status is None else int(status)


async def wait_status(rt: Runtime, task_id: int, status: int, timeout: float = 30.0) -> None:
    async def check() -> bool:
        return await task_status(rt, task_id) == status

    await wait_for(check, timeout)


async def records_of(rt: Runtime, task_id: int) -> list[CallRecord]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(CallRecord).where(CallRecord.task_id == task_id).order_by(CallRecord.callee)
        )
        return list(rows.all())


class LimitlessSandbox:
    """The sandbox's callees, told of no limits: they ring and talk as long as they would, so
    only the dialer's own enforcement of maxRingingTime and maxCalls can end such a call."""

    def __init__(self, clock: ScaledClock) -> None:
        self._sandbox = SandboxCarrier(clock)

    async def dial(self, request: DialRequest) -> Call:
        unbounded = dataclasses.replace(request, max_ringing_s=86_400.0, max_talk_s=86_400.0)
        return await self._sandbox.dial(unbounded)

    async def close(self) -> None:
        await self._sandbox.close()
