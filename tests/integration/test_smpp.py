"""SmppTransport against a real SMSC: smpp34's Rust-backed SMPP 3.4 server on 127.0.0.1 plays
the carrier, recording what it accepted, answering throttled or refused when told, and
sending delivery receipts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import smpp34

from tests.integration.smsc import Carrier, CarrierProcess, Received
from tests.ports import free_port
from voxcast.messaging.encoding import parse_udh
from voxcast.messaging.smpp import SmppTransport, SmscConfig
from voxcast.ports import OutgoingSms, SmsReceipt, SmsRejected

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def carrier() -> AsyncIterator[Carrier]:
    smsc = Carrier(free_port(socket.SOCK_STREAM))
    await smsc.start()
    yield smsc
    await smsc.stop()


def _config(port: int, **kw: object) -> SmscConfig:
    params: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": "voxcast",
        "password": "secret",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "retry_min_s": 0.05,
        "retry_max_s": 0.2,
        "response_timeout_s": 3.0,
    }
    params.update(kw)
    return SmscConfig(**params)  # type: ignore[arg-type]


@pytest.fixture
async def transport(carrier: Carrier) -> AsyncIterator[SmppTransport]:
    t = SmppTransport(_config(carrier.port))
    yield t
    await t.close()


async def _receipts(t: SmppTransport, count: int) -> list[SmsReceipt]:
    out: list[SmsReceipt] = []
    async for r in t.receipts():
        out.append(r)
        if len(out) == count:
            break
    return out


async def test_short_gsm7_text(carrier: Carrier, transport: SmppTransport) -> None:
    text = "Your code is 1234 (valid 5 min) €"
    done = await transport.submit(OutgoingSms("m-1", "4915112345678", "Voxcast", text))
    assert done.segments == 1
    [got] = carrier.accepted
    assert (got.data_coding, got.esm_class, got.registered_delivery) == (0, 0, 1)
    assert got.destination == "4915112345678" and got.source == "Voxcast"
    assert got.text() == text
    # € is an extension character: two septets
    assert len(got.payload) == len(text) + 1


async def test_ucs2_text(carrier: Carrier, transport: SmppTransport) -> None:
    text = "您的验证码是 1234，五分钟内有效。"
    done = await transport.submit(OutgoingSms("m-2", "8613800138000", "12345", text))
    assert done.segments == 1
    [got] = carrier.accepted
    assert (got.data_coding, got.esm_class) == (8, 0)
    assert got.payload == text.encode("utf-16-be")


@pytest.mark.parametrize(
    ("text", "segments", "coding"),
    [("Hello from voxcast, segment test. " * 12, 3, 0), ("长短信分段测试，" * 20, 3, 8)],
)
async def test_long_text_is_segmented_and_reassembles(
    carrier: Carrier, transport: SmppTransport, text: str, segments: int, coding: int
) -> None:
    done = await transport.submit(OutgoingSms("m-3", "4915112345678", "Voxcast", text))
    assert done.segments == segments
    got = carrier.accepted
    assert len(got) == segments
    udhs = [parse_udh(r.payload) for r in got]
    assert {r.esm_class for r in got} == {0x40} and {r.data_coding for r in got} == {coding}
    assert len({u[0] for u in udhs}) == 1  # one reference for the whole message
    assert sorted(u[2] for u in udhs) == list(range(1, segments + 1))
    assert {u[1] for u in udhs} == {segments}
    by_seq = sorted(zip(udhs, got, strict=True), key=lambda p: p[0][2])
    assert "".join(r.text() for _, r in by_seq) == text
    # one report for the whole message once every segment's receipt came
    [receipt] = await asyncio.wait_for(_receipts(transport, 1), 10)
    assert receipt.message_id == "m-3" and receipt.delivered and receipt.stat == "DELIVRD"


async def test_receipts_match_our_message_ids(carrier: Carrier) -> None:
    carrier.undeliverable = frozenset({"4915100000002"})
    t = SmppTransport(_config(carrier.port))
    try:
        await asyncio.gather(
            t.submit(OutgoingSms("a", "4915100000001", "Voxcast", "first")),
            t.submit(OutgoingSms("b", "4915100000002", "Voxcast", "second")),
            t.submit(OutgoingSms("c", "4915100000003", "Voxcast", "third " * 40)),
        )
        receipts = await asyncio.wait_for(_receipts(t, 3), 10)
    finally:
        await t.close()
    by_id = {r.message_id: r for r in receipts}
    assert set(by_id) == {"a", "b", "c"}
    assert by_id["a"].delivered and by_id["c"].delivered
    assert not by_id["b"].delivered and by_id["b"].stat == "UNDELIV"


async def test_smsc_restart_resends_unanswered_exactly_once() -> None:
    port = free_port(socket.SOCK_STREAM)
    accepted: list[Received] = []
    first = CarrierProcess(port, accepted, hold_after=5)
    await first.start()
    t = SmppTransport(_config(port, window=4))
    second = CarrierProcess(port, accepted)
    try:
        sends = [
            asyncio.create_task(t.submit(OutgoingSms(f"r{i}", "4915112345678", "V", f"msg {i}")))
            for i in range(20)
        ]
        # the SMSC has accepted five and left the next ones unanswered when it dies
        await asyncio.wait_for(first.holding.wait(), 10)
        await first.kill()
        held = set(first.held)
        await second.start()
        done = await asyncio.wait_for(asyncio.gather(*sends), 20)
        assert [d.segments for d in done] == [1] * 20
    finally:
        await t.close()
        if second._proc is not None:
            await second.kill()
    texts = [r.text() for r in accepted]
    assert sorted(texts) == sorted(f"msg {i}" for i in range(20))  # each exactly once
    assert held and held <= set(texts)  # the unanswered ones were sent again
    assert t.binds == 2


async def test_throttled_submits_are_retried(carrier: Carrier, transport: SmppTransport) -> None:
    carrier.throttle_first = 4
    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                transport.submit(OutgoingSms(f"t{i}", "4915112345678", "V", f"throttled {i}"))
                for i in range(6)
            )
        ),
        20,
    )
    assert [r.segments for r in results] == [1] * 6
    assert carrier.throttled == 4
    assert sorted(r.text() for r in carrier.accepted) == sorted(f"throttled {i}" for i in range(6))


async def test_permanent_refusal_raises(carrier: Carrier, transport: SmppTransport) -> None:
    carrier.refuse = {"999": smpp34.ESME_RINVDSTADR}
    with pytest.raises(SmsRejected) as refused:
        await asyncio.wait_for(transport.submit(OutgoingSms("x", "999", "V", "to nowhere")), 10)
    assert refused.value.message_id == "x" and "ESME_RINVDSTADR" in refused.value.reason
    # the session carries on
    assert (await transport.submit(OutgoingSms("y", "4915112345678", "V", "fine"))).segments == 1
    assert [r.text() for r in carrier.accepted] == ["fine"]


async def test_temporary_errors_give_up_after_max_attempts(carrier: Carrier) -> None:
    carrier.throttle_first, carrier.throttle_status = 100, smpp34.ESME_RSYSERR
    t = SmppTransport(_config(carrier.port, max_attempts=3))
    try:
        with pytest.raises(SmsRejected) as refused:
            await asyncio.wait_for(t.submit(OutgoingSms("s", "49151", "V", "sys")), 10)
    finally:
        await t.close()
    assert carrier.throttled == 3 and "ESME_RSYSERR" in refused.value.reason


async def test_window_bounds_unanswered_submits(carrier: Carrier) -> None:
    # answers slow enough that a busy machine still gets three out before the first answer
    carrier.answer_after_s = 1.0
    # a rate far above what the window lets through: only the window holds them back
    t = SmppTransport(_config(carrier.port, window=3, rate_per_s=10000.0))
    try:
        sent = [t.submit(OutgoingSms(f"w{i}", "4915112345678", "V", f"win {i}")) for i in range(6)]
        done = await asyncio.wait_for(asyncio.gather(*sent), 20)
        assert [d.segments for d in done] == [1] * 6
    finally:
        await t.close()
    assert carrier.max_outstanding == 3  # the window was used, and never exceeded
    assert len(carrier.accepted) == 6


async def test_rate_limit_spaces_submits(carrier: Carrier) -> None:
    rate = 10.0
    t = SmppTransport(_config(carrier.port, rate_per_s=rate))
    try:
        sent = [t.submit(OutgoingSms(f"q{i}", "4915112345678", "V", f"rate {i}")) for i in range(6)]
        await asyncio.wait_for(asyncio.gather(*sent), 20)
    finally:
        await t.close()
    # a bucket starting with one token: submit k waits for k tokens at `rate` per second
    span = carrier.arrivals[-1] - carrier.arrivals[0]
    assert span >= 5 / rate * 0.9


async def test_silent_smsc_is_detected_by_enquire_link() -> None:
    port = free_port(socket.SOCK_STREAM)
    accepted: list[Received] = []
    smsc = CarrierProcess(port, accepted)
    await smsc.start()
    t = SmppTransport(_config(port, enquire_link_s=0.2, response_timeout_s=0.5))
    try:
        await asyncio.wait_for(t.wait_bound(), 10)
        smsc.pause()  # the process stops answering; its sockets stay open
        try:
            await asyncio.wait_for(t.wait_unbound(), 10)
        finally:
            smsc.resume()
        alive = await asyncio.wait_for(t.submit(OutgoingSms("e", "49151", "V", "alive")), 20)
        assert alive.segments == 1
    finally:
        await t.close()
        await smsc.kill()
    assert t.binds >= 2
    assert [r.text() for r in accepted] == ["alive"]


@pytest.mark.parametrize("style", ["tlv", "odd", "enroute"])
async def test_receipt_variants(carrier: Carrier, transport: SmppTransport, style: str) -> None:
    # TLV-only receipts (as smpp34's own example sends them), a hex err: code aiosmpplib
    # can't read, an intermediate ENROUTE before the final state: one report each
    carrier.receipt_style = style
    carrier.undeliverable = frozenset({"4915100000002"})
    await transport.submit(OutgoingSms("ok", "4915100000001", "V", "one"))
    await transport.submit(OutgoingSms("ko", "4915100000002", "V", "two " * 50))
    receipts = await asyncio.wait_for(_receipts(transport, 2), 10)
    by_id = {r.message_id: (r.delivered, r.stat) for r in receipts}
    assert by_id == {"ok": (True, "DELIVRD"), "ko": (False, "UNDELIV")}
    assert transport.binds == 1
    # nothing more: the ENROUTE notifications were not reported
    assert transport._receipts.empty()


async def test_receipts_after_a_restart_of_voxcast(carrier: Carrier) -> None:
    carrier.receipts = False
    first = SmppTransport(_config(carrier.port))
    try:
        done = await first.submit(OutgoingSms("late", "4915100000001", "V", "x" * 200))
        stored = done.carrier_ids
    finally:
        await first.close()
    assert stored == tuple(r.message_id for r in carrier.accepted)
    carrier.sessions.clear()
    carrier.bound.clear()
    second = SmppTransport(_config(carrier.port))
    try:
        second.expect("late", stored)
        await second.start()
        await asyncio.wait_for(carrier.bound.wait(), 10)
        [esme] = carrier.sessions.values()
        for smsc_id in stored:
            await carrier.send_receipt(esme, "4915100000001", "V", smsc_id, "DELIVRD")
        [receipt] = await asyncio.wait_for(_receipts(second, 1), 10)
    finally:
        await second.close()
    assert (receipt.message_id, receipt.delivered) == ("late", True)
