"""The UDP layer on loopback, against a scripted far end: a whole call (INVITE, 180, 200, ACK,
BYE), garbage datagrams dropped without harm, and strangers answered 481."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time

import pytest

from voxcast.telephony.sip.aio import transport
from voxcast.telephony.sip.aio.transport import SipEndpoint
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.message import Headers, Request, Response, parse, serialize
from voxcast.telephony.sip.core.sdp import offer
from voxcast.telephony.sip.core.useragent import Answered, Ended, OutboundCall, Output, Ringing

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 0\r\n"
)


class FarEnd(asyncio.DatagramProtocol):
    """Answers INVITE with 100/180/200, BYE with 200; records every message it gets."""

    def __init__(self) -> None:
        self.got: list[Request | Response] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]

    def reply(self, req: Request, status: int, addr: tuple[str, int], body: bytes = b"") -> None:
        h = Headers()
        for via in req.headers.get_all("Via"):
            h.add("Via", via)
        h.add("From", req.headers.get("From") or "")
        to = req.headers.get("To") or ""
        h.add("To", to if "tag=" in to or status == 100 else f"{to};tag=far")
        h.add("Call-ID", req.call_id)
        h.add("CSeq", req.headers.get("CSeq") or "")
        h.add("Contact", f"<sip:far@127.0.0.1:{self.port}>")
        assert self.transport is not None
        self.transport.sendto(serialize(Response(status, "x", h, body)), addr)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = parse(data)
        self.got.append(msg)
        if isinstance(msg, Request) and msg.method == "INVITE":
            for status in (100, 180):
                self.reply(msg, status, addr)
            self.reply(msg, 200, addr, SDP)
        elif isinstance(msg, Request) and msg.method == "BYE":
            self.reply(msg, 200, addr)


async def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_a_whole_call_over_loopback_udp() -> None:
    loop = asyncio.get_running_loop()
    far_transport, far = await loop.create_datagram_endpoint(FarEnd, local_addr=("127.0.0.1", 0))
    endpoint = await SipEndpoint.open("127.0.0.1", 0, time.monotonic)
    outputs: list[Output] = []
    try:
        host, port = endpoint.address
        counter = itertools.count()
        call = OutboundCall(
            local=Local(host, port),
            target_uri=f"sip:8613000000000@127.0.0.1:{far.port}",
            from_uri="sip:voxcast@127.0.0.1",
            call_id="udp-call-1",
            from_tag="ours",
            sdp_offer=offer(host, 40000, 1),
            new_branch=lambda: f"z9hG4bK-u{next(counter)}",
        )
        endpoint.place(call, ("127.0.0.1", far.port), outputs.append)
        await wait_until(lambda: any(isinstance(o, Answered) for o in outputs))
        assert isinstance(outputs[0], Ringing)
        await wait_until(lambda: any(isinstance(m, Request) and m.method == "ACK" for m in far.got))
        # garbage and strangers do not disturb the call
        far.transport.sendto(b"\x00\xffnot sip at all", endpoint.address)  # type: ignore[union-attr]
        stranger = parse(serialize(Request("BYE", "sip:x@127.0.0.1", _stray_headers())))
        far.transport.sendto(serialize(stranger), endpoint.address)  # type: ignore[union-attr]
        await wait_until(lambda: any(isinstance(m, Response) and m.status == 481 for m in far.got))
        endpoint.hangup("udp-call-1")
        await wait_until(lambda: any(isinstance(o, Ended) for o in outputs))
        assert [o for o in outputs if isinstance(o, Ended)] == [Ended(200, "us", "hung up by us")]
        assert endpoint.dropped == 1
        await wait_until(lambda: any(isinstance(m, Request) and m.method == "BYE" for m in far.got))
        methods = [m.method for m in far.got if isinstance(m, Request)]
        assert methods == ["INVITE", "ACK", "BYE"]
    finally:
        await endpoint.close()
        far_transport.close()


def _stray_headers() -> Headers:
    h = Headers()
    h.add("Via", "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-stray;rport")  # answered at the source
    h.add("From", "<sip:a@127.0.0.1>;tag=1")
    h.add("To", "<sip:b@127.0.0.1>;tag=2")
    h.add("Call-ID", "nobody-knows-this-call")
    h.add("CSeq", "1 BYE")
    return h


def test_the_call_of_a_bounced_datagram_is_read_even_from_its_first_bytes() -> None:
    from voxcast.telephony.sip.aio.transport import _call_id_of

    whole = serialize(Request("INVITE", "sip:x@127.0.0.1", _stray_headers()))
    assert _call_id_of(whole) == "nobody-knows-this-call"
    cut = whole[: whole.index(b"nobody") + 24]  # an ICMP error may quote only the start
    assert _call_id_of(cut) == "nobody-knows-this-call"
    compact = b"INVITE sip:x@h SIP/2.0\r\nv: SIP/2.0/UDP h\r\ni: abc@h\r\n\r\n"
    assert _call_id_of(compact) == "abc@h"
    assert _call_id_of(b"\x00garbage") is None


def options(n: int, port: int) -> bytes:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-probe{n}")
    h.add("From", f"<sip:probe@127.0.0.1>;tag=p{n}")
    h.add("To", "<sip:voxcast@127.0.0.1>")
    h.add("Call-ID", f"probe-{n}")
    h.add("CSeq", "1 OPTIONS")
    h.add("Max-Forwards", "70")
    return serialize(Request("OPTIONS", "sip:voxcast@127.0.0.1", h))


async def burst_then_one_pass(count: int) -> int:
    """`count` OPTIONS queued in the endpoint's socket while its loop is blocked; the answers
    sent after the loop's next pass that reads the socket."""
    endpoint = await SipEndpoint.open("127.0.0.1", 0, time.monotonic)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe.setblocking(False)
    try:
        for n in range(count):
            probe.sendto(options(n, probe.getsockname()[1]), endpoint.address)
        # the loop is blocked meanwhile, on purpose: everything waits in the socket
        time.sleep(0.05)  # noqa: ASYNC251
        await asyncio.sleep(0)  # a pass that selects the socket and queues its reader
        await asyncio.sleep(0)  # the reader has run once
        answered = 0
        with contextlib.suppress(BlockingIOError):
            while probe.recv(65536):
                answered += 1
        return answered
    finally:
        probe.close()
        await endpoint.close()


async def test_a_wake_up_handles_the_datagrams_waiting_up_to_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncio reads one datagram a loop pass: behind passes busy with RTP, answers waited
    longer than T1 and every INVITE and BYE went out twice (`bench/sip_task.py`)."""
    monkeypatch.setattr(transport, "MAX_READ_SECONDS", 10.0, raising=False)
    assert await burst_then_one_pass(40) == 40
    # never more than its count at once: the pacer's frames are due every 20 ms
    assert await burst_then_one_pass(100) == transport.MAX_READS_PER_WAKE + 1


async def test_a_wake_up_stops_reading_once_its_time_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "MAX_READ_SECONDS", 0.0)
    assert await burst_then_one_pass(40) == 2  # the one asyncio read, and one more
