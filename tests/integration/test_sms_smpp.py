"""SMS end to end over SMPP: an SMSC configured with `voxcast admin smsc add`, a real SMSC
(tests/integration/smsc.py) taking the texts of a sandbox campaign and of sendSms, its receipts
settling them and pushed to a real HTTP receiver; an SMSC restart, a voxcast restart and an
SMSC not reachable at start."""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Tenant
from tests.integration.dialing import insert_task, wait_for
from tests.integration.receiver import Receiver
from tests.integration.server import Cli
from tests.integration.smsc import Carrier, CarrierProcess, Received
from tests.integration.test_sms import Api, messages
from tests.ports import free_port
from voxcast.clock import FixedClock, ScaledClock
from voxcast.config import Settings
from voxcast.messaging.encoding import parse_udh
from voxcast.messaging.sender import SmsSender, choose_transport
from voxcast.messaging.smpp import SmppTransport
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts, rates, sms
from voxcast.storage.models import Push, SmsMessage
from voxcast.webhooks.sender import PushSender
from voxcast.worker import Background

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def api(http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock) -> Api:
    return Api(http, tenant, clock)


@pytest.fixture
async def carrier() -> AsyncIterator[Carrier]:
    smsc = Carrier(free_port(socket.SOCK_STREAM))
    await smsc.start()
    yield smsc
    await smsc.stop()


async def add_smsc(settings: Settings, port: int, *extra: str) -> None:
    """`voxcast admin smsc add`, run in this process on the test's database and key."""
    cli = Cli(settings.database_url, settings.data_dir, settings.secret_key)
    out = await asyncio.to_thread(
        cli.invoke, "admin", "smsc", "add", "--host", "127.0.0.1", "--port", str(port),
        "--system-id", "voxcast", "--password", "secret", *extra,
    )  # fmt: skip
    assert "SMSC 1 added" in out.stdout


def text_by_number(accepted: list[Received]) -> dict[str, str]:
    """The text each destination got (one each here), its segments put back in order."""
    parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in accepted:
        parts[r.destination].append((segment_number(r), r.text()))
    return {n: "".join(t for _, t in sorted(ps)) for n, ps in parts.items()}


def segment_number(r: Received) -> int:
    return parse_udh(r.payload)[2] if r.esm_class & 0x40 else 1


def smsc_ids_by_number(accepted: list[Received]) -> dict[str, list[str]]:
    """The SMSC's ids of each destination's segments, in segment order (the SMSC may take
    the segments of one text in any order)."""
    by: dict[str, list[Received]] = defaultdict(list)
    for r in accepted:
        by[r.destination].append(r)
    return {n: [r.message_id for r in sorted(rs, key=segment_number)] for n, rs in by.items()}


async def final(rt: Runtime, count: int) -> list[SmsMessage]:
    """The messages once `count` of them have their final state."""
    done: list[SmsMessage] = []

    async def settled() -> bool:
        nonlocal done
        done = [m for m in await messages(rt) if m.status not in ("pending", "submitted")]
        return len(done) >= count

    await wait_for(settled, timeout=40)
    return done


async def pushed(receiver: Receiver, count: int, *, pusher: PushSender | None = None) -> None:
    async def enough() -> bool:
        if pusher is not None:
            await pusher.deliver_due()
        return len(receiver.received) >= count

    await wait_for(enough, timeout=40)


async def running(sender: SmsSender) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(sender.run(stop))


async def test_post_call_sms_of_a_sandbox_campaign_reach_the_smsc_with_receipts_pushed(
    settings: Settings, carrier: Carrier
) -> None:
    carrier.undeliverable = frozenset({"8613000000007"})
    settings.sandbox_speed = 100.0
    rt = await open_runtime(settings, ScaledClock(100.0))
    await add_smsc(settings, carrier.port, "--window", "4", "--rate", "200")
    worker = Background(rt, render_workers=0)
    long_name = (
        "Robert, your parcel 4711 could not be delivered today; we try again tomorrow "
        "between 9 and 12, or pick it up at the depot on Main Street 5 before 6 pm"
    )
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal("100")
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
        async with Receiver() as receiver:
            async with rt.sessions.begin() as session:
                await accounts.set_sms_push(session, creds.app_id, url=receiver.url)
            params = {
                "hangUpSms": 1, "smsAppId": "sms1", "senderId": "ACME",
                "smsContent": "Sorry we missed you, ${text1}",
                "successPush": 1, "successPushTime": 0, "failedPush": 1,
            }  # fmt: skip
            numbers = ["8613000000000", "8613000000005", "8613000000007"]
            task_id = await insert_task(
                rt, creds.account_id, creds.app_id, numbers, params=params,
                infos=[{"text1": "Ann"}, {"text1": long_name}, {"text1": "Cy"}],
            )  # fmt: skip
            await worker.start()
            assert isinstance(worker.sms and worker.sms.transport, SmppTransport)
            await pushed(receiver, 3)
            reports = {p["mobile"]: p for p in (r.json() for r in receiver.received)}
        async with rt.sessions() as session:
            stored = {
                m.number: m
                for m in await session.scalars(
                    select(SmsMessage).where(SmsMessage.task_id == task_id)
                )
            }
    finally:
        await worker.close()
        await rt.close()
    # the texts reached the SMSC once each, ${text1} filled, the long one in two segments
    assert text_by_number(carrier.accepted) == {
        "8613000000000": "Sorry we missed you, Ann",
        "8613000000005": f"Sorry we missed you, {long_name}",
        "8613000000007": "Sorry we missed you, Cy",
    }
    assert len(carrier.accepted) == 4
    assert {r.source for r in carrier.accepted} == {"ACME"}
    ids = smsc_ids_by_number(carrier.accepted)
    assert {n: (m.status, m.stat, m.segments, m.carrier_ids) for n, m in stored.items()} == {
        "8613000000000": ("delivered", "DELIVRD", 1, ids["8613000000000"]),
        "8613000000005": ("delivered", "DELIVRD", 2, ids["8613000000005"]),
        "8613000000007": ("failed", "UNDELIV", 1, ids["8613000000007"]),
    }
    # one §4.6 report per text, with its msgid and the receipt's outcome
    assert len(receiver.received) == 3
    assert {
        n: (p["msgid"], p["status"], p["reason"], p["pricedetail"]["chargeCnt"])
        for n, p in reports.items()
    } == {
        "8613000000000": (stored["8613000000000"].msg_id, 0, "0", 1),
        "8613000000005": (stored["8613000000005"].msg_id, 0, "0", 2),
        "8613000000007": (stored["8613000000007"].msg_id, 1, "UNDELIV", 1),
    }


async def send(api: Api, tenant: Tenant, numbers: list[str], content: str) -> list[str]:
    answer = await api.post(
        "/v3/sendSms",
        {"appId": tenant.app_id, "numbers": ",".join(numbers), "content": content,
         "senderId": "ACME"},
    )  # fmt: skip
    assert answer["success"] == str(len(numbers)), answer
    return [a["msgId"] for a in answer["array"]]


async def test_send_sms_goes_through_smpp_and_get_report_shows_the_receipts(
    api: Api, rt: Runtime, tenant: Tenant, settings: Settings, carrier: Carrier
) -> None:
    carrier.undeliverable = frozenset({"8613000000002"})
    await add_smsc(settings, carrier.port)
    async with Receiver() as receiver:
        async with rt.sessions.begin() as session:
            await accounts.set_sms_push(session, tenant.app_id, url=receiver.url)
        ids = await send(api, tenant, ["8613000000001", "8613000000002"], "Your code is 1234")
        transport = await choose_transport(rt)
        assert isinstance(transport, SmppTransport)
        stop, runner = await running(SmsSender(rt, transport, idle_seconds=0.02))
        try:
            await final(rt, 2)
            async with PushSender(rt, worker_id="t") as pusher:
                await pushed(receiver, 2, pusher=pusher)
        finally:
            stop.set()
            await runner
    report = await api.get("/v3/getReport", appId=tenant.app_id, msgIds=",".join(ids))
    assert (report["success"], report["fail"], report["sending"]) == ("1", "1", "0")
    assert [(r["msgId"], r["status"]) for r in report["array"]] == [(ids[0], 0), (ids[1], 1)]
    assert sorted(r.destination for r in carrier.accepted) == ["8613000000001", "8613000000002"]
    assert {r.text() for r in carrier.accepted} == {"Your code is 1234"}
    got = sorted(
        (p["msgid"], p["status"], p["reason"]) for p in (r.json() for r in receiver.received)
    )
    assert got == sorted([(ids[0], 0, "0"), (ids[1], 1, "UNDELIV")])


async def test_an_smsc_restart_mid_run_loses_no_text_and_sends_none_twice(
    api: Api, rt: Runtime, tenant: Tenant, settings: Settings
) -> None:
    port = free_port(socket.SOCK_STREAM)
    accepted: list[Received] = []
    # the first SMSC takes three texts, leaves the next unanswered, then dies outright
    first = CarrierProcess(port, accepted, hold_after=3)
    await first.start()
    second = Carrier(port, accepted=accepted)
    second.next_id[0] = 1000  # its ids go on where the first's left off
    await add_smsc(settings, port, "--window", "4")
    numbers = [f"86130000001{i:02d}" for i in range(10)]
    ids = await send(api, tenant, numbers, "Reminder: dentist at 10")
    transport = await choose_transport(rt)
    assert isinstance(transport, SmppTransport)
    stop, runner = await running(SmsSender(rt, transport, idle_seconds=0.02))
    try:
        await asyncio.wait_for(first.holding.wait(), 20)
        await first.kill()
        before = list(accepted)
        await second.start()
        await asyncio.wait_for(second.bound.wait(), 30)
        # the receipts the first SMSC kept come on the new bind, as an SMSC stores them
        [esme] = second.sessions.values()
        for r in before:
            await second.send_receipt(esme, r.destination, r.source, r.message_id, "DELIVRD")
        done = await final(rt, 10)
    finally:
        stop.set()
        await runner
        await second.stop()
    assert first.held  # some were unanswered when it died, and were sent again
    assert sorted(r.destination for r in accepted) == sorted(numbers)  # each exactly once
    assert {(m.status, m.stat) for m in done} == {("delivered", "DELIVRD")}
    assert sorted(m.msg_id for m in done) == sorted(ids)
    assert transport.binds == 2


async def test_receipts_after_a_restart_of_voxcast_settle_and_push_once(
    api: Api, rt: Runtime, tenant: Tenant, settings: Settings, carrier: Carrier
) -> None:
    carrier.receipts = False  # the SMSC holds the receipt until after the restart
    await add_smsc(settings, carrier.port)
    async with Receiver() as receiver:
        async with rt.sessions.begin() as session:
            await accounts.set_sms_push(session, tenant.app_id, url=receiver.url)
        [msg_id] = await send(api, tenant, ["8613000000001"], "x" * 200)
        first = SmsSender(rt, await choose_transport(rt), idle_seconds=0.02)
        stop, runner = await running(first)

        async def submitted() -> bool:
            return [m.status for m in await messages(rt)] == ["submitted"]

        try:
            await wait_for(submitted, timeout=20)
        finally:
            stop.set()
            await runner  # the sender stops and its transport unbinds: voxcast restarts
        [row] = await messages(rt)
        # the SMSC's id of each segment, in segment order
        assert row.carrier_ids is not None and len(row.carrier_ids) == 2
        assert row.carrier_ids == smsc_ids_by_number(carrier.accepted)["8613000000001"]

        carrier.sessions.clear()
        carrier.bound.clear()
        second = SmsSender(rt, await choose_transport(rt), idle_seconds=0.02)
        stop, runner = await running(second)
        try:
            # no new text: the new sender binds anyway and awaits the stored ids
            await asyncio.wait_for(carrier.bound.wait(), 20)
            [esme] = carrier.sessions.values()
            for smsc_id in row.carrier_ids:
                await carrier.send_receipt(esme, "8613000000001", "ACME", smsc_id, "DELIVRD")
            [done] = await final(rt, 1)
            async with PushSender(rt, worker_id="t") as pusher:
                await pushed(receiver, 1, pusher=pusher)
                await pusher.deliver_due()
        finally:
            stop.set()
            await runner
        assert second.rearmed == 1
        assert (done.msg_id, done.status, done.stat) == (msg_id, "delivered", "DELIVRD")
        [report] = [r.json() for r in receiver.received]
        assert (report["msgid"], report["status"], report["pricedetail"]["chargeCnt"]) == (
            msg_id,
            0,
            2,
        )
        async with rt.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Push)) == 1
    assert len(carrier.accepted) == 2  # nothing was sent again


async def test_a_worker_starts_with_its_smsc_unreachable_and_sends_once_it_is_up(
    settings: Settings,
) -> None:
    port = free_port(socket.SOCK_STREAM)  # nothing listens there yet
    rt = await open_runtime(settings, ScaledClock(1.0))
    await add_smsc(settings, port)
    worker = Background(rt, render_workers=0)
    carrier = Carrier(port)
    try:
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal("1")
            )
            result = await sms.send(
                session, account_id=creds.account_id, app_id=creds.app_id,
                orders=[sms.SmsOrder("8613000000001", "hello", "ACME")], limit=100,
                now=rt.clock.now(),
            )  # fmt: skip
        await asyncio.wait_for(worker.start(), 20)  # starts though the SMSC does not answer

        async def claimed() -> bool:
            return [m.lease_until is not None for m in await messages(rt)] == [True]

        await wait_for(claimed, timeout=20)  # the sender holds the text, waiting for a bind
        assert [m.status for m in await messages(rt)] == ["pending"]
        await carrier.start()
        [done] = await final(rt, 1)
    finally:
        await worker.close()
        await rt.close()
        await carrier.stop()
    assert (done.msg_id, done.status) == (result.accepted[0].msg_id, "delivered")
    assert [r.text() for r in carrier.accepted] == ["hello"]


async def test_a_text_waiting_for_an_unreachable_smsc_is_given_back_then_sent_once(
    api: Api, rt: Runtime, tenant: Tenant, settings: Settings
) -> None:
    port = free_port(socket.SOCK_STREAM)  # nothing listens there yet
    await add_smsc(settings, port)
    [msg_id] = await send(api, tenant, ["8613000000001"], "hello")
    # a short lease: the submit is given up (and the text released) after 80% of it
    sender = SmsSender(rt, await choose_transport(rt), idle_seconds=0.02, lease_seconds=1.0)
    stop, runner = await running(sender)
    carrier = Carrier(port)
    try:

        async def given_back_twice() -> bool:
            return sender.released >= 2

        await wait_for(given_back_twice, timeout=20)
        assert [m.status for m in await messages(rt)] == ["pending"]
        await carrier.start()
        [done] = await final(rt, 1)
    finally:
        stop.set()
        await runner
        await carrier.stop()
    assert (done.msg_id, done.status) == (msg_id, "delivered")
    assert [r.text() for r in carrier.accepted] == ["hello"]  # the withdrawn tries never went
