"""Status pushes from the durable outbox to real HTTP receivers on 127.0.0.1, on SQLite and
PostgreSQL: retries, giving up, batch arrays, signatures, and no double delivery."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import START, Tenant
from tests.integration.receiver import Receiver
from voxcast import __version__
from voxcast.clock import FixedClock, ScaledClock, SystemClock
from voxcast.config import Settings
from voxcast.runtime import Runtime, open_runtime
from voxcast.security import SecretBox, generate_key
from voxcast.services import accounts
from voxcast.storage.models import App, Push
from voxcast.webhooks import outbox, signing
from voxcast.webhooks.sender import DEAD, DELIVERED, PENDING, PushSender


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
            due=rt.wall.now(),
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
        async with PushSender(rt, worker_id="t") as sender:
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
        async with PushSender(rt, worker_id="t") as sender:
            for _ in range(5):
                await sender.deliver_due()
                clock.advance(timedelta(minutes=30).total_seconds())
        assert receiver.attempts == 3
        assert await states(rt) == [(DEAD, 3)]


async def test_batch_mode_posts_json_arrays(rt: Runtime, tenant: Tenant) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url, batch=True)
        await queue(rt, tenant, 5)
        async with PushSender(rt, worker_id="t") as sender:
            await sender.deliver_due()
        assert len(receiver.received) == 1
        assert receiver.received[0].json() == [report(i) for i in range(5)]


async def test_signed_pushes_verify_with_the_documented_rule(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url, secret="s3cret")
        await queue(rt, tenant, 1)
        async with PushSender(rt, worker_id="t") as sender:
            await sender.deliver_due()
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
    async with PushSender(rt, worker_id="t") as sender:
        await sender.deliver_due()
    assert await states(rt) == [(DEAD, 1)]


async def test_two_senders_at_once_deliver_each_push_once(rt: Runtime, tenant: Tenant) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 60)
        async with PushSender(rt, worker_id="a") as a, PushSender(rt, worker_id="b") as b:
            for _ in range(3):
                await asyncio.gather(a.deliver_due(), b.deliver_due())
        ids = [r.json()["voiceId"] for r in receiver.received]
        assert sorted(ids) == sorted(str(report(i)["voiceId"]) for i in range(60))
        assert len(ids) == len(set(ids))


async def test_single_push_is_the_enqueued_object_with_the_vendor_headers(
    rt: Runtime, tenant: Tenant
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        async with rt.sessions.begin() as session:
            await outbox.enqueue(
                session,
                account_id=tenant.creds.account_id,
                app_id=tenant.app_id,
                kind="voice_report",
                dedupe_key="26030209000000000007",
                payload=report(7),
                now=rt.clock.now(),
                due=rt.wall.now(),
            )
        sender = PushSender(rt, worker_id="t")
        assert await sender.deliver_due() == 1
        await sender.aclose()
        (got,) = receiver.received
        assert got.json() == report(7)
        assert got.headers["content-type"] == "application/json;charset=UTF-8"
        assert got.headers["user-agent"] == f"voxcast/{__version__}"
        assert "x-voxcast-signature" not in got.headers
        assert await states(rt) == [(DELIVERED, 1)]


async def test_batch_mode_splits_arrays_at_push_batch_size_and_retries_them_whole(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    rt.settings.push_batch_size = 2
    async with Receiver(fail_first=1) as receiver:
        await set_url(rt, tenant, receiver.url, batch=True)
        await queue(rt, tenant, 5)
        sender = PushSender(rt, worker_id="t")
        assert await sender.deliver_due() == 5
        assert receiver.attempts == 3  # the first array failed, the other two arrived
        assert sorted(s for s, _ in await states(rt)) == [0, 0, 1, 1, 1]
        clock.advance(rt.settings.push_retry_seconds)
        assert await sender.deliver_due() == 2
        await sender.aclose()
        got = [r.json() for r in receiver.received]
        assert all(isinstance(body, list) and 1 <= len(body) <= 2 for body in got)
        ids = sorted(item["voiceId"] for body in got for item in body)
        assert ids == [report(i)["voiceId"] for i in range(5)]
        assert await states(rt) == [(DELIVERED, 2)] * 2 + [(DELIVERED, 1)] * 3


async def test_refused_connection_is_a_failed_attempt_retried_later(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    await set_url(rt, tenant, f"http://127.0.0.1:{port}/push")
    await queue(rt, tenant, 1)
    sender = PushSender(rt, worker_id="t")
    assert await sender.deliver_due() == 1
    await sender.aclose()
    async with rt.sessions() as session:
        row = (await session.scalars(select(Push))).one()
    assert (row.state, row.attempts) == (PENDING, 1)
    assert row.last_error.startswith("ConnectError")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=rt.settings.push_retry_seconds)


async def test_receiver_that_never_answers_times_out_as_a_failed_attempt(
    rt: Runtime, tenant: Tenant
) -> None:
    writers: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)  # and never answer

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rt.settings.push_timeout_seconds = 0.3
    try:
        await set_url(rt, tenant, f"http://127.0.0.1:{port}/push")
        await queue(rt, tenant, 1)
        sender = PushSender(rt, worker_id="t")
        started = asyncio.get_running_loop().time()
        assert await sender.deliver_due() == 1
        assert asyncio.get_running_loop().time() - started < 3
        await sender.aclose()
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
    async with rt.sessions() as session:
        row = (await session.scalars(select(Push))).one()
    assert (row.state, row.attempts) == (PENDING, 1)
    assert row.last_error


async def test_push_url_is_read_at_delivery_time_per_app(
    rt: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with Receiver() as first, Receiver() as second, Receiver() as other:
        await set_url(rt, tenant, first.url)
        await set_url(rt, other_tenant, other.url)
        await queue(rt, tenant, 2)
        await queue(rt, other_tenant, 1)
        await set_url(rt, tenant, second.url)  # changed after queueing
        sender = PushSender(rt, worker_id="t")
        assert await sender.deliver_due() == 3
        await sender.aclose()
        assert first.received == []
        assert [r.json() for r in second.received] == [report(0), report(1)]
        assert [r.json() for r in other.received] == [report(0)]


async def test_push_leased_by_a_crashed_sender_is_resent_after_the_lease_runs_out(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 1)
        crashed = PushSender(rt, worker_id="crashed")
        claimed = await crashed._claim(clock.now())  # leased, then the process dies
        assert claimed is not None
        lease, _ = claimed
        await crashed.aclose()
        survivor = PushSender(rt, worker_id="survivor")
        assert await survivor.deliver_due() == 0  # still leased
        clock.set(lease + timedelta(seconds=1))
        assert await survivor.deliver_due() == 1
        await survivor.aclose()
        assert [r.json() for r in receiver.received] == [report(0)]
        assert await states(rt) == [(DELIVERED, 1)]


async def test_sender_whose_lease_ran_out_cannot_overwrite_the_delivered_outcome(
    rt: Runtime, tenant: Tenant, clock: FixedClock
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 1)
        slow = PushSender(rt, worker_id="slow")
        claimed = await slow._claim(clock.now())
        assert claimed is not None
        lease, deliveries = claimed
        clock.set(lease + timedelta(seconds=1))
        fast = PushSender(rt, worker_id="fast")
        assert await fast.deliver_due() == 1
        await fast.aclose()
        # the slow sender's POST finally fails; its result must not reopen the delivered row
        await slow._record(lease, [(deliveries[0], "HTTP 500")])
        await slow.aclose()
        assert await states(rt) == [(DELIVERED, 1)]
        assert slow.failed == 0


async def test_run_delivers_in_the_background_and_returns_promptly_when_stopped(
    rt: Runtime, tenant: Tenant
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        stop = asyncio.Event()
        sender = PushSender(rt, worker_id="t")
        task = asyncio.create_task(sender.run(stop))
        await queue(rt, tenant, 3)
        for _ in range(200):
            if len(receiver.received) == 3:
                break
            await asyncio.sleep(0.02)
        assert sorted(r.json()["voiceId"] for r in receiver.received) == [
            report(i)["voiceId"] for i in range(3)
        ]
        stop.set()
        await asyncio.wait_for(task, timeout=1)


async def test_two_running_senders_share_the_outbox_without_double_delivery(
    rt: Runtime, tenant: Tenant
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        stop = asyncio.Event()
        senders = [PushSender(rt, worker_id=w, concurrency=8) for w in ("a", "b")]
        tasks = [asyncio.create_task(s.run(stop)) for s in senders]
        await queue(rt, tenant, 150)
        for _ in range(500):
            if len(receiver.received) >= 150:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # room for any duplicate to show up
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
        ids = [r.json()["voiceId"] for r in receiver.received]
        assert len(ids) == 150
        assert set(ids) == {report(i)["voiceId"] for i in range(150)}
        assert sum(s.delivered for s in senders) == 150
        assert await states(rt) == [(DELIVERED, 1)] * 150


async def test_retries_are_due_by_wall_time_not_by_a_faster_sandbox_clock(
    settings: Settings,
) -> None:
    sandbox, wall = FixedClock(START), FixedClock(START)
    rt = await open_runtime(settings, sandbox, wall=wall)
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, sandbox.now(), name="fast", balance=Decimal(1)
            )
        tenant = Tenant(creds, None)  # type: ignore[arg-type]  # no SDK client needed
        retry = rt.settings.push_retry_seconds
        async with Receiver(always_fail=True) as receiver:
            await set_url(rt, tenant, receiver.url)
            sandbox.advance(3600)  # the sandbox clock is ahead of the wall, as at 10x speed
            await queue(rt, tenant, 1)
            async with PushSender(rt, worker_id="t") as sender:
                assert await sender.deliver_due() == 1
                sandbox.advance(retry * 10)  # ten retry periods of sandbox time...
                assert await sender.deliver_due() == 0  # ...are not a retry period
                wall.advance(retry - 1)
                assert await sender.deliver_due() == 0
                wall.advance(1)
                assert await sender.deliver_due() == 1
            assert receiver.attempts == 2
        async with rt.sessions() as session:
            row = (await session.scalars(select(Push))).one()
        # the row's own stamp stays on the injected clock; the retry is wall time
        assert row.created_at == START + timedelta(seconds=3600)
        assert row.next_attempt_at == wall.now() + timedelta(seconds=retry)
        assert (row.state, row.attempts) == (PENDING, 2)
    finally:
        await rt.close()


async def test_running_sender_at_10x_spaces_its_retries_by_wall_time(settings: Settings) -> None:
    settings.sandbox_speed = 10
    settings.push_retry_seconds = 0.4
    rt = await open_runtime(settings, ScaledClock(10), wall=SystemClock())
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="fast", balance=Decimal(1)
            )
        tenant = Tenant(creds, None)  # type: ignore[arg-type]  # no SDK client needed
        async with Receiver(always_fail=True) as receiver:
            await set_url(rt, tenant, receiver.url)
            stop = asyncio.Event()
            task = asyncio.create_task(PushSender(rt, worker_id="t").run(stop))
            await queue(rt, tenant, 1)
            for _ in range(150):  # at most 3 s; three attempts take about 0.8 s
                if await states(rt) == [(DEAD, 3)]:
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, timeout=2)
            assert await states(rt) == [(DEAD, 3)]
            times = receiver.attempt_times
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert len(gaps) == 2
            assert min(gaps) >= 0.4  # at 10x sandbox time they were 0.04 s apart
    finally:
        await rt.close()


# -- the ringing push, an unreadable secret, a database outage -------------------------------


async def queue_ringing(rt: Runtime, tenant: Tenant, voice_id: str) -> None:
    async with rt.sessions.begin() as session:
        await outbox.enqueue_many(
            session,
            [
                outbox.PushItem(
                    tenant.creds.account_id,
                    tenant.app_id,
                    outbox.AGENT_RINGING,
                    f"{voice_id}:0",
                    [{"voiceId": voice_id, "agentName": "a1"}],
                )
            ],
            rt.clock.now(),
            due=rt.wall.now(),
        )


async def test_the_agent_ringing_push_is_retried_at_once_and_given_up_after_three(
    rt: Runtime, tenant: Tenant
) -> None:
    """Only useful while the agent rings: its retries do not wait VOXCAST_PUSH_RETRY_SECONDS
    (the clock never moves here), while a status report's retry does."""
    async with Receiver(fail_first=2) as rings, Receiver(always_fail=True) as reports:
        async with rt.sessions.begin() as session:
            await accounts.set_cc_push(session, tenant.app_id, url=rings.url, ringing=True)
        await set_url(rt, tenant, reports.url)
        await queue_ringing(rt, tenant, "v1")
        await queue(rt, tenant, 1)
        async with PushSender(rt, worker_id="t") as sender:
            assert await sender.deliver_due() == 2
            assert await sender.deliver_due() == 1  # the ringing push again, the report waits
            assert await sender.deliver_due() == 1
            assert await sender.deliver_due() == 0
        assert (rings.attempts, reports.attempts) == (3, 1)
        assert [r.json() for r in rings.received] == [[{"voiceId": "v1", "agentName": "a1"}]]
        async with rt.sessions() as session:
            got = {
                p.kind: (p.state, p.attempts) for p in (await session.scalars(select(Push))).all()
            }
        assert got == {outbox.AGENT_RINGING: (DELIVERED, 3), "voice_report": (PENDING, 1)}
    async with Receiver(always_fail=True) as rings:
        async with rt.sessions.begin() as session:
            await accounts.set_cc_push(session, tenant.app_id, url=rings.url, ringing=True)
        await queue_ringing(rt, tenant, "v2")
        async with PushSender(rt, worker_id="t") as sender:
            for _ in range(5):
                await sender.deliver_due()
        assert rings.attempts == 3
        async with rt.sessions() as session:
            row = (await session.scalars(select(Push).where(Push.dedupe_key == "v2:0"))).one()
        assert (row.state, row.attempts, row.last_error) == (DEAD, 3, "HTTP 500")


KEY_MISMATCH = (
    "push secret cannot be decrypted with this server's key (VOXCAST_SECRET_KEY / secret.key "
    "differ from those it was set with); set it again with `voxcast admin set-push-url "
    "--secret` or restore the key: the push waits until then"
)


async def test_a_push_secret_sealed_with_another_key_keeps_the_push_waiting_unsent(
    rt: Runtime, tenant: Tenant, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither posted unsigned nor spent to dead: it waits with a clear error until the secret
    is set again, then goes out signed."""
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        async with rt.sessions.begin() as session:
            app = await session.get(App, tenant.app_id)
            assert app is not None
            app.push_secret_enc = SecretBox(generate_key()).seal("s3cret")  # another key
        await queue(rt, tenant, 2)
        caplog.set_level(logging.INFO, logger="voxcast.push")
        async with PushSender(rt, worker_id="t") as sender:
            for _ in range(5):  # five retry periods: the attempts are not spent
                assert await sender.deliver_due() == 2
                clock.advance(rt.settings.push_retry_seconds)
            assert receiver.attempts == 0
            async with rt.sessions() as session:
                rows = (await session.scalars(select(Push).order_by(Push.id))).all()
                assert [(r.state, r.attempts, r.last_error) for r in rows] == [
                    (PENDING, 0, KEY_MISMATCH)
                ] * 2
                # the last pass was one retry period ago, and set the next try for now
                assert [r.next_attempt_at for r in rows] == [clock.now()] * 2
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert [r.getMessage() for r in errors] == [
                f"app {tenant.app_id}: 2 push(es) not sent: {KEY_MISMATCH}"
            ] * 5
            assert all(r.exc_info is None for r in caplog.records)
            await set_url(rt, tenant, receiver.url, secret="again")
            assert await sender.deliver_due() == 2
        assert await states(rt) == [(DELIVERED, 1)] * 2
        got = receiver.received[0]
        assert signing.verify(
            "again",
            got.headers["x-voxcast-timestamp"],
            got.body,
            got.headers["x-voxcast-signature"],
            clock.now().timestamp(),
        )


class DownSessions:
    """A runtime's sessions that refuse to connect while `down`, noting when each try was."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.down = True
        self.tries: list[float] = []

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self.down:
            self.tries.append(asyncio.get_running_loop().time())
            raise OperationalError("BEGIN", {}, ConnectionRefusedError("connection refused"))
        async with self.real.begin() as session:
            yield session


@pytest.mark.timeout(30)
async def test_while_the_database_is_down_the_sender_tries_once_a_second_in_one_line(
    rt: Runtime, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    async with Receiver() as receiver:
        await set_url(rt, tenant, receiver.url)
        await queue(rt, tenant, 1)
        down = DownSessions(rt.sessions)
        sender = PushSender(dataclasses.replace(rt, sessions=down), worker_id="t")  # type: ignore[arg-type]
        assert sender.idle_seconds == 0.2  # the pause after an empty pass, when all is well
        caplog.set_level(logging.INFO, logger="voxcast.push")
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        try:
            for _ in range(300):
                if len(down.tries) == 3:
                    break
                await asyncio.sleep(0.01)
            down.down = False
            for _ in range(300):
                if receiver.attempts:
                    break
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(down.tries)]
    assert len(gaps) == 2 and min(gaps) >= 0.99, gaps
    assert await states(rt) == [(DELIVERED, 1)]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        (
            "WARNING",
            "database unreachable (OperationalError: (builtins.ConnectionRefusedError) "
            "connection refused); pushes wait until it is back",
        ),
        ("WARNING", lines[1][1]),
    ]
    assert lines[1][1].startswith("database reachable again after ")
    assert all(r.exc_info is None for r in caplog.records)
