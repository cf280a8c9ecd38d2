"""Push delivery: N status reports through voxcast's outbox and sender (SQLite) against plain
httpx posting the same payloads with the same concurrency, to one local receiver, in one run."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.integration.receiver import Receiver

from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.security import generate_key
from voxcast.services import accounts
from voxcast.webhooks import outbox
from voxcast.webhooks.sender import PushSender

N = int(os.environ.get("BENCH_PUSHES", "2000"))
CONCURRENCY = 32


def payload(i: int) -> dict[str, object]:
    return {
        "voiceId": f"2603020900{i:09d}",
        "type": 1,
        "callee": "8613000000000",
        "displayNum": "1008122211",
        "submitTime": 1670939112097,
        "callTime": 1670939568000,
        "ringingTime": 1670939570000,
        "answerTime": 1670939582000,
        "hangupTime": 1670939595000,
        "chargedDuration": 20,
        "callDuration": 13,
        "billPeriod": "20+20",
        "code": "China(Jinan, Shandong)",
        "voiceFileId": None,
        "rate": "0.023625",
        "baseCost": "0.007875",
        "cost": "0.007875",
        "terminationCode": "200",
        "terminationReason": "success",
        "sipCode": "200",
        "feedbackValue": "-1",
        "calledInfo": None,
        "ringDuration": 12,
        "outRecallCount": 0,
    }


async def plain(url: str) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=10) as client:

        async def one(i: int) -> None:
            async with gate:
                r = await client.post(url, json=payload(i))
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(N)))
        return N / (time.perf_counter() - t0)


async def voxcast(url: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.database_url = f"sqlite:///{tmp}/push.db"
        settings.data_dir = Path(tmp)
        settings.secret_key = generate_key()
        rt = await open_runtime(settings, SystemClock())
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="b", balance=Decimal(1)
            )
            await accounts.set_push(
                session, rt.secrets, creds.app_id, url=url, batch=False, secret=None
            )
            await outbox.enqueue_many(
                session,
                (
                    outbox.PushItem(
                        creds.account_id,
                        creds.app_id,
                        "voice_report",
                        str(payload(i)["voiceId"]),
                        payload(i),
                    )
                    for i in range(N)
                ),
                rt.clock.now(),
                due=rt.wall.now(),
            )
        sender = PushSender(rt, worker_id="bench", concurrency=CONCURRENCY)
        t0 = time.perf_counter()
        sent = 0
        while sent < N:
            sent += await sender.deliver_due()
        rate = N / (time.perf_counter() - t0)
        await sender.aclose()
        await rt.close()
        return rate


async def main() -> None:
    async with Receiver() as receiver:
        base = await plain(receiver.url)
        mine = await voxcast(receiver.url)
        assert len(receiver.received) == 2 * N
    print(
        f"push: voxcast {mine:,.0f}/s, plain httpx {base:,.0f}/s, ratio {mine / base:.2f} "
        f"(target >= 0.5; {N} pushes, {CONCURRENCY} at once, durable outbox on SQLite)"
    )


if __name__ == "__main__":
    asyncio.run(main())
