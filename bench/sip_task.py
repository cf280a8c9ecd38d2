"""End to end over SIP: a task of N numbers (2,000 by default) stored as the send endpoint
stores it, dialed by voxcast's dialer through a trunk whose far end is SIPp (`-sn uas`: answers
at once, waits for our BYE), each call playing a short prompt; three runs.

Prints each run's calls per second (first dial to last record written), failures, and two
ratios: the slowest run against the median (stability: a run waiting on Timer F for lost BYEs
used to be 10x slower) and the median against SIPp's own UAC placing the same calls against the
same far end in this run. Bounded: SIPp runs with -m and -timeout, each run with a deadline.
Usage: .venv/bin/python bench/sip_task.py [--calls 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, update
from tests.integration.dialing import insert_task

from sip_load import FarEnd, resent, sipp_uac  # type: ignore[import-not-found]
from voxcast.audio import PromptCache, RenderPool
from voxcast.cli.main import GC_THRESHOLDS
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.dialer.engine import Dialer
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts, rates, trunks
from voxcast.storage.models import Account, CallRecord
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.sandbox import SandboxCarrier

HOST = "127.0.0.1"
CHANNELS = 1500
DEADLINE_S = 120.0


async def one_run(calls: int) -> tuple[float, int]:
    """(calls per second, calls not answered and hung up by us)."""
    # SIPp's -m counts its own failures too: room for them, so that it never leaves early
    far = FarEnd(calls * 2, int(DEADLINE_S))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.database_url = f"sqlite:///{tmp}/bench.db"
        settings.data_dir = Path(tmp)
        settings.secret_key = generate_key()
        settings.sip_bind_host = HOST
        rt = await open_runtime(settings, SystemClock())
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="b", balance=Decimal(10**6)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.01"))
            await session.execute(
                update(Account)
                .where(Account.id == creds.account_id)
                .values(max_cps=100_000, max_channels=CHANNELS)
            )
            spec = trunks.TrunkSpec(name="sipp", host=HOST, port=far.port)
            await trunks.add_trunk(session, rt.secrets, spec, rt.clock.now(), replace=True)
            await trunks.use_trunk(session, creds.account_id, "sipp")
        directory = CarrierDirectory(rt, SandboxCarrier(rt.clock))
        await directory.refresh()
        pool = RenderPool(PromptCache.under(Path(tmp)), workers=0)
        dialer = Dialer(rt, directory.carrier_for, pool=pool, worker_id="bench")
        numbers = [f"86130{i:08d}" for i in range(calls)]
        task_id = await insert_task(
            rt, creds.account_id, creds.app_id, numbers, text="Hi.", max_ringing_time=30
        )
        stop = asyncio.Event()
        before = resent()
        started = time.monotonic()
        runner = asyncio.create_task(dialer.run(stop))
        done = 0
        while done < calls and time.monotonic() - started < DEADLINE_S:
            await asyncio.sleep(0.1)
            async with rt.sessions() as session:
                done = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(CallRecord)
                        .where(CallRecord.task_id == task_id)
                    )
                    or 0
                )
        elapsed = time.monotonic() - started
        async with rt.sessions() as session:
            answered = int(
                await session.scalar(
                    select(func.count())
                    .select_from(CallRecord)
                    .where(CallRecord.task_id == task_id, CallRecord.sip_code == "200")
                )
                or 0
            )
        async with rt.sessions() as session:
            codes = (
                await session.execute(
                    select(CallRecord.sip_code, CallRecord.termination_reason, func.count())
                    .where(CallRecord.task_id == task_id, CallRecord.sip_code != "200")
                    .group_by(CallRecord.sip_code, CallRecord.termination_reason)
                )
            ).all()
        if codes:
            print("  not answered:", ", ".join(f"{c} {r!r} x{n}" for c, r, n in codes))
        print(f"  {calls / elapsed:.0f} calls/s; SIP sent again: {dict(resent() - before) or 0}")
        stop.set()
        await runner
        await directory.close()
        await pool.aclose()
        await rt.close()
    far.finish(0.5)
    return calls / elapsed, calls - answered


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # the collector as `voxcast worker` runs it
    rates_seen: list[float] = []
    failures: list[int] = []
    for _ in range(args.runs):
        rate, failed = await one_run(args.calls)
        rates_seen.append(rate)
        failures.append(failed)
    print(f"  runs: {[round(r) for r in rates_seen]} calls/s, not answered {failures}", flush=True)
    far = FarEnd(args.calls * 2, 120)
    base = args.calls / sipp_uac("uac", far.port, args.calls, 5000, CHANNELS, 500)
    far.finish(0.5)
    median = statistics.median(rates_seen)
    runs = ", ".join(f"{r:,.0f}" for r in rates_seen)
    print(
        f"sip task: {args.calls} numbers through the dialer and a trunk to SIPp, runs {runs} "
        f"calls/s (failed {failures}); slowest/median {min(rates_seen) / median:.2f}; "
        f"median vs SIPp's UAC ({base:,.0f} calls/s) ratio {median / base:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
