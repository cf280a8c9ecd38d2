"""The thin asyncio layer under the sans-IO SIP core: one UDP socket (or one TCP connection to
the trunk), messages parsed and routed to calls by Call-ID, one timer task driving every
call's transactions.

Malformed or oversized datagrams are dropped with a log line; requests for no known call get
481 (405 for methods we never accept outside a dialog). Nothing a peer sends stops the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from voxcast.telephony.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    SipParseError,
    StreamFramer,
    parse,
    serialize,
)
from voxcast.telephony.sip.transaction import Send

log = logging.getLogger("voxcast.sip")

Address = tuple[str, int]
TICK_SECONDS = 0.02
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024


class Party(Protocol):
    """What the endpoint drives: an `OutboundCall` or a `Registration` (sans-IO, routed by
    Call-ID, fed messages and ticks, returning `Send`s and its own events)."""

    @property
    def call_id(self) -> str: ...
    @property
    def deadline(self) -> float | None: ...
    @property
    def finished(self) -> bool: ...
    def start(self, now: float) -> Sequence[object]: ...
    def receive(self, message: Message, now: float) -> Sequence[object]: ...
    def tick(self, now: float) -> Sequence[object]: ...
    def hangup(self, now: float, reason: str = ...) -> Sequence[object]: ...


@dataclass
class Leg:
    """A call (or registration) and where its signalling goes, with the handler of its
    other outputs (events)."""

    call: Party
    peer: Address
    on_output: Callable[[Any], None]


class SipEndpoint(asyncio.DatagramProtocol):
    """Owns the UDP socket; `place()` starts a call, outputs reach the call's handler."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._now = monotonic
        #: called with ("<" or ">", message, peer) for every message in or out (`voxcast call`)
        self.trace: Callable[[str, Message, Address], None] | None = None
        #: offered every request that belongs to no call; True when it took care of it
        self.on_request: Callable[[Request, Address], bool] | None = None
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
    def calls(self) -> int:
        return len(self._legs)

    @property
    def address(self) -> Address:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # a burst of answers (hundreds of calls set up at once) must not overflow the
            # kernel's default buffer; the kernel caps this at net.core.rmem_max
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)

    def place(self, call: Party, peer: Address, on_output: Callable[[Any], None]) -> None:
        leg = Leg(call, peer, on_output)
        self._legs[call.call_id] = leg
        self._dispatch(leg, call.start(self._now()))

    def hangup(self, call_id: str, reason: str = "hung up by us") -> None:
        leg = self._legs.get(call_id)
        if leg is not None:
            self._dispatch(leg, leg.call.hangup(self._now(), reason))

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.handle(data, (str(addr[0]), int(addr[1])))

    def handle(self, data: bytes, peer: Address) -> None:
        """One whole message from `peer` (a datagram, or a frame cut from a stream)."""
        try:
            message = parse(data)
        except SipParseError as err:
            self.dropped += 1
            log.info("dropped a datagram from %s:%s: %s", *peer, err)
            return
        if self.trace is not None:
            self.trace("<", message, peer)
        leg = self._legs.get(message.call_id)
        if leg is None:
            self._stray(message, peer)
            return
        self._dispatch(leg, leg.call.receive(message, self._now()))

    def send(self, message: Message, peer: Address) -> None:
        """Send one message outside any call (a registrar's answers)."""
        self._send(message, peer)

    def _stray(self, message: Message, peer: Address) -> None:
        if isinstance(message, Response) or message.method == "ACK":
            return  # a late response or ACK for a call long gone
        if self.on_request is not None and self.on_request(message, peer):
            return
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

    def _dispatch(self, leg: Leg, outputs: Sequence[object]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self._send(out.message, leg.peer)
            else:
                leg.on_output(out)

    def _send(self, message: Message, peer: Address) -> None:
        if self.trace is not None:
            self.trace(">", message, peer)
        try:
            data = serialize(message)
        except SipParseError:
            log.exception("refused to send a malformed message")
            return
        self._write(data, peer)

    def _write(self, data: bytes, peer: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, peer)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = self._now()
            for call_id, leg in list(self._legs.items()):
                deadline = leg.call.deadline
                if deadline is not None and now >= deadline:
                    self._dispatch(leg, leg.call.tick(now))
                if leg.call.finished:  # ended and past absorbing retransmissions
                    del self._legs[call_id]

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._transport is not None:
            self._transport.close()

    def error_received(self, exc: Exception) -> None:
        log.info("UDP error: %s", exc)  # e.g. ICMP port unreachable: retransmission handles it


class _TcpConnection(asyncio.Protocol):
    """The stream under a `TcpSipEndpoint`: bytes cut into messages by Content-Length."""

    def __init__(self, endpoint: TcpSipEndpoint) -> None:
        self._endpoint = endpoint
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except SipParseError as err:
            # a broken frame leaves the stream unreadable: drop the connection (§18.3)
            log.info("closing the SIP connection to %s: %s", self._endpoint.peer, err)
            self._endpoint.dropped += 1
            if self.transport is not None:
                self.transport.close()
            return
        for frame in frames:
            self._endpoint.handle(frame, self._endpoint.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._endpoint.connection_lost_from(self)


class TcpSipEndpoint(SipEndpoint):
    """SIP over one TCP connection to the trunk, reconnected when it drops (requests sent
    while it is down are lost; their transactions time out as on a dead UDP peer)."""

    RECONNECT_SECONDS = 1.0

    def __init__(self, monotonic: Callable[[], float], local_host: str, peer: Address) -> None:
        super().__init__(monotonic)
        self.peer = peer
        self._local_host = local_host
        self._connection: _TcpConnection | None = None
        self._local: Address = (local_host, 0)
        self._closed = False
        self._reconnecting: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, local_host: str, peer: Address, monotonic: Callable[[], float]
    ) -> TcpSipEndpoint:
        endpoint = cls(monotonic, local_host, peer)
        await endpoint._connect()
        endpoint._ticker = asyncio.create_task(endpoint._tick_forever())
        return endpoint

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(
            lambda: _TcpConnection(self), *self.peer, local_addr=(self._local_host, 0)
        )
        host, port = transport.get_extra_info("sockname")[:2]
        self._local = (str(host), int(port))
        self._connection = connection

    @property
    def address(self) -> Address:
        return self._local

    def _write(self, data: bytes, peer: Address) -> None:
        connection = self._connection
        if connection is None or connection.transport is None or connection.transport.is_closing():
            log.info("SIP connection to %s:%s is down; a message was not sent", *self.peer)
            self._reconnect_soon()
            return
        connection.transport.write(data)

    def connection_lost_from(self, connection: _TcpConnection) -> None:
        if connection is self._connection:
            self._connection = None
            self._reconnect_soon()

    def _reconnect_soon(self) -> None:
        if self._closed or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closed and self._connection is None:
            await asyncio.sleep(self.RECONNECT_SECONDS)
            try:
                await self._connect()
            except OSError as err:
                log.info("reconnecting to %s:%s failed: %s", *self.peer, err)

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await super().close()
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
