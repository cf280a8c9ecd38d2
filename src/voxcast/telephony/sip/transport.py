"""The thin asyncio layer under the sans-IO SIP core: one UDP socket, datagrams parsed and
routed to calls by Call-ID, one timer task driving every call's transactions.

Malformed or oversized datagrams are dropped with a log line; requests for no known call get
481 (405 for methods we never accept outside a dialog). Nothing a peer sends stops the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from voxcast.telephony.sip.message import (
    Headers,
    Message,
    Response,
    SipParseError,
    parse,
    serialize,
)
from voxcast.telephony.sip.transaction import Send
from voxcast.telephony.sip.useragent import OutboundCall, Output

log = logging.getLogger("voxcast.sip")

Address = tuple[str, int]
TICK_SECONDS = 0.02


@dataclass
class Leg:
    """A call and where its signalling goes, with the handler of its non-SIP outputs."""

    call: OutboundCall
    peer: Address
    on_output: Callable[[Output], None]


class SipEndpoint(asyncio.DatagramProtocol):
    """Owns the UDP socket; `place()` starts a call, outputs reach the call's handler."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._now = monotonic
        self._transport: asyncio.DatagramTransport | None = None
        self._legs: dict[str, Leg] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.dropped = 0

    @classmethod
    async def open(cls, host: str, port: int, monotonic: Callable[[], float]) -> SipEndpoint:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(monotonic), local_addr=(host, port)
        )
        protocol._ticker = asyncio.create_task(protocol._tick_forever())
        return protocol

    @property
    def address(self) -> Address:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def place(self, call: OutboundCall, peer: Address, on_output: Callable[[Output], None]) -> None:
        leg = Leg(call, peer, on_output)
        self._legs[call.call_id] = leg
        self._dispatch(leg, call.start(self._now()))

    def hangup(self, call_id: str) -> None:
        leg = self._legs.get(call_id)
        if leg is not None:
            self._dispatch(leg, leg.call.hangup(self._now()))

    def forget(self, call_id: str) -> None:
        self._legs.pop(call_id, None)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        peer = (str(addr[0]), int(addr[1]))
        try:
            message = parse(data)
        except SipParseError as err:
            self.dropped += 1
            log.info("dropped a datagram from %s:%s: %s", *peer, err)
            return
        leg = self._legs.get(message.call_id)
        if leg is None:
            self._stray(message, peer)
            return
        self._dispatch(leg, leg.call.receive(message, self._now()))

    def _stray(self, message: Message, peer: Address) -> None:
        if isinstance(message, Response) or message.method == "ACK":
            return  # a late response or ACK for a call long gone
        status, reason = (
            (405, "Method Not Allowed")
            if message.method in ("INVITE", "REGISTER", "SUBSCRIBE")
            else (481, "Call/Transaction Does Not Exist")
        )
        headers = Headers()
        for via in message.headers.get_all("Via"):
            headers.add("Via", via)
        for name in ("From", "To", "Call-ID", "CSeq"):
            headers.add(name, message.headers.get(name) or "")
        if status == 405:
            headers.add("Allow", "ACK, BYE, CANCEL, INFO, OPTIONS")
        self._send(Response(status, reason, headers), peer)

    def _dispatch(self, leg: Leg, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self._send(out.message, leg.peer)
            else:
                leg.on_output(out)

    def _send(self, message: Message, peer: Address) -> None:
        if self._transport is None:
            return
        try:
            self._transport.sendto(serialize(message), peer)
        except SipParseError:
            log.exception("refused to send a malformed message")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = self._now()
            for leg in list(self._legs.values()):
                deadline = leg.call.deadline
                if deadline is not None and now >= deadline:
                    self._dispatch(leg, leg.call.tick(now))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._transport is not None:
            self._transport.close()

    def error_received(self, exc: Exception) -> None:
        log.info("UDP error: %s", exc)  # e.g. ICMP port unreachable: retransmission handles it
