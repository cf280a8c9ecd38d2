"""Dialer throughput: 10,000 sandbox calls through voxcast's dialer (SQLite) against the same
calls driven straight through the sandbox carrier with no database, in the same run.

Prints calls completed per wall second for both, the ratio, and the dialer's CPU time per call.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, update
from tests.integration.dialing import insert_task

from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import ScaledClock
from voxcast.config import Settings
from voxcast.dialer.engine import Dialer
from voxcast.ports import DialRequest, Prompt
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, CallRecord
from voxcast.telephony.sandbox import SandboxCarrier

CALLS = int(os.environ.get("BENCH_CALLS", "10000"))
SPEED = 2000.0
CHANNELS = 500


def numbers() -> list[str]:
    # a realistic mix of outcomes: digits 0-9 in turn
    return [f"86130{i:07d}{i % 10}" for i in range(CALLS)]


async def baseline() -> float:
    clock = ScaledClock(SPEED)
    carrier = SandboxCarrier(clock)
    gate = asyncio.Semaphore(CHANNELS)
    prompt = Prompt("p", 4.0)

    async def one(n: str) -> None:
        async with gate:
            call = await carrier.dial(DialRequest(n, None, prompt, max_ringing_s=30))
            async for _ in call.events():
                pass

    t0 = time.perf_counter()
    await asyncio.gather(*(one(n) for n in numbers()))
    return CALLS / (time.perf_counter() - t0)


async def voxcast() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.database_url = f"sqlite:///{tmp}/bench.db"
        settings.data_dir = Path(tmp)
        settings.secret_key = generate_key()
        settings.sandbox_speed = SPEED
        clock = ScaledClock(SPEED)
        rt = await open_runtime(settings, clock)
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, clock.now(), name="b", balance=Decimal(10**6)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
            await session.execute(
                update(Account)
                .where(Account.id == creds.account_id)
                .values(max_cps=100_000, max_channels=CHANNELS)
            )
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, numbers(), max_ringing_time=30
        )
        carrier = SandboxCarrier(clock)
        pool = RenderPool(PromptCache.under(Path(tmp)), workers=0)
        dialer = Dialer(rt, lambda _a: carrier, pool=pool, worker_id="bench")
        stop = asyncio.Event()
        cpu0, t0 = time.process_time(), time.perf_counter()
        runner = asyncio.create_task(dialer.run(stop))
        while True:
            await asyncio.sleep(0.25)
            async with rt.sessions() as session:
                done = await session.scalar(
                    select(func.count())
                    .select_from(CallRecord)
                    .where(CallRecord.task_id == task_id)
                )
            if done == CALLS:
                break
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        stop.set()
        await runner
        await rt.close()
        return CALLS / wall, cpu / CALLS


async def main() -> None:
    base = await baseline()
    rate, cpu_per_call = await voxcast()
    print(
        f"dialer: voxcast {rate:,.0f} calls/s, bare sandbox carrier {base:,.0f} calls/s, "
        f"ratio {rate / base:.3f}; dialer CPU {cpu_per_call * 1000:.2f} ms/call "
        f"({CALLS} calls, speed {SPEED:g}x, {CHANNELS} channels, SQLite)"
    )


if __name__ == "__main__":
    asyncio.run(main())
