"""Status pushes from the durable outbox to real HTTP receivers on 127.0.0.1, on SQLite and
PostgreSQL: retries, giving up, batch arrays, signatures, and no double delivery."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import Tenant
from tests.integration.receiver import Receiver
from voxcast.clock import FixedClock
from voxcast.runtime import Runtime
from voxcast.services import accounts
from voxcast.storage.models import Push
from voxcast.webhooks import outbox, signing
from voxcast.webhooks.sender import DEAD, DELIVERED, PushSender


def report(n: int) -> dict[str, object]:
    return {
        "voiceId": f"2603020900000{n:06d}",
        "type": 1,
        "callee": "8613000000000",
        "terminationCode": "200",
        "callDuration": 13,
        "chargedDuration": 60,
    }


async def queue(rt: Runtime, tenant: Tenant, count: int) -> None:
    async with rt.sessions.begin() as session:
        await outbox.enqueue_many(
            session,
            (
                outbox.PushItem(
                    tenant.creds.account_id,
                    tenant.app_id,
                    "voice_report",
                    str(report(i)["voiceId"]),
                    report(i),
                )
                for i in range(count)
            ),
            rt.clock.now(),
        )


async def set_url(
    rt: Runtime, tenant: Tenant, url: str | None, *, batch: bool = False, secret: str | None = None
) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_push(
            session, rt.secrets, tenant.app_id, url=url or "", batch=batch, secret=secret
        )


async def states(rt: Runtime) -> list[tuple[int, int]]:
    async with rt.sessions() as session:
        return [
            (p.state, p.attempts)
            for p in (await session.scalars(select(Push).order_by(Push.id))).all()
        ]


async def test_push_is_delivered_on_the_third_attempt_after_two_failures(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver(fail_first=2) as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 1)
        sender = PushSender(rt, worker_id="t")
        assert await sender.deliver_due() == 1
        assert await sender.deliver_due() == 0  # the retry is not due yet
        clock.advance(rt.settings.push_retry_seconds)
        assert await sender.deliver_due() == 1
        clock.advance(rt.settings.push_retry_seconds)
        assert await sender.deliver_due() == 1
        assert receiver.attempts == 3
        assert [r.json() for r in receiver.received] == [report(0)]
        assert receiver.received[0].headers["content-type"].startswith("application/json")
        assert await states(rt) == [(DELIVERED, 3)]
        clock.advance(rt.settings.push_retry_seconds * 5)
        assert await sender.deliver_due() == 0  # delivered once, never again


async def test_push_is_given_up_after_three_failed_attempts(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver(always_fail=True) as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 1)
        sender = PushSender(rt, worker_id="t")
        for _ in range(5):
            await sender.deliver_due()
            clock.advance(timedelta(minutes=30).total_seconds())
        assert receiver.attempts == 3
        assert await states(rt) == [(DEAD, 3)]


async def test_batch_mode_posts_json_arrays(rt: Runtime, tenant: Tenant) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url, batch=True)
        await queue(rt, tenant, 5)
        await PushSender(rt, worker_id="t").deliver_due()
        assert len(receiver.received) == 1
        assert receiver.received[0].json() == [report(i) for i in range(5)]


async def test_signed_pushes_verify_with_the_documented_rule(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url, secret="s3cret")
        await queue(rt, tenant, 1)
        await PushSender(rt, worker_id="t").deliver_due()
        got = receiver.received[0]
        ts = got.headers["x-voxcast-timestamp"]
        sig = got.headers["x-voxcast-signature"]
        now = clock.now().timestamp()
        assert signing.verify("s3cret", ts, got.body, sig, now)
        assert not signing.verify("wrong", ts, got.body, sig, now)
        assert not signing.verify("s3cret", ts, got.body + b" ", sig, now)
        assert not signing.verify("s3cret", ts, got.body, sig, now + 3600)


async def test_app_without_push_url_marks_the_push_dead(rt: Runtime, tenant: Tenant) -> None:
    await queue(rt, tenant, 1)
    await PushSender(rt, worker_id="t").deliver_due()
    assert await states(rt) == [(DEAD, 1)]


async def test_two_senders_at_once_deliver_each_push_once(rt: Runtime, tenant: Tenant) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 60)
        a, b = PushSender(rt, worker_id="a"), PushSender(rt, worker_id="b")
        for _ in range(3):
            await asyncio.gather(a.deliver_due(), b.deliver_due())
        ids = [r.json()["voiceId"] for r in receiver.received]
        assert sorted(ids) == sorted(str(report(i)["voiceId"]) for i in range(60))
        assert len(ids) == len(set(ids))


def test_signature_matches_a_hand_computed_hmac() -> None:
    import hashlib
    import hmac

    body = json.dumps(report(1)).encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature("k", 1700000000, body) == "sha256=" + expected
