"""The thin asyncio layer under the sans-IO SIP core: one UDP socket (or TCP or TLS connections,
the trunk's first), messages parsed and routed to calls by Call-ID, one timer task driving every
call's transactions. Requests go to the call's peer, or along the dialog's route set once there
is one; responses go back along the top Via (received/rport); ICMP errors fail calls at once.

Malformed or oversized datagrams are dropped with a log line; requests for no known call get
481, 405 or 501 (OPTIONS gets 200, or 503 while the node is not ready). Nothing a peer sends
stops the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from voxcast import metrics
from voxcast.telephony.sip.core.dialog import ALLOW
from voxcast.telephony.sip.core.message import (
    MAX_MESSAGE_BYTES,
    Message,
    Request,
    Response,
    SipError,
    SipParseError,
    StreamFramer,
    new_tag,
    parse,
    response_to,
    serialize,
)
from voxcast.telephony.sip.core.routing import Hop, next_hop, response_destination, stamp_source
from voxcast.telephony.sip.core.transaction import Send

log = logging.getLogger("voxcast.sip")

Address = tuple[str, int]
TICK_SECONDS = 0.02
#: every leg's timers are read afresh this often, whatever the schedule says: a safety net for
#: a call driven outside the endpoint (see `touch`)
RESCAN_SECONDS = 1.0
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
#: a wake-up of the UDP socket reads what waits, up to this many datagrams or this long: asyncio
#: reads one per loop pass, and behind a pass busy with thousands of RTP streams the answers
#: queued for longer than T1, so every INVITE and BYE was sent again (and those answered too)
MAX_READS_PER_WAKE = 64
MAX_READ_SECONDS = 0.002
#: the largest UDP datagram: a bigger-than-allowed message is read whole, then refused by `parse`
MAX_DATAGRAM_BYTES = 65536
#: Linux: report ICMP errors on an unconnected UDP socket, with the destination that failed
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
#: methods that only make sense inside a dialog or transaction: 481 when we know of none
DIALOG_ONLY = frozenset({"BYE", "CANCEL", "INFO", "UPDATE", "PRACK", "NOTIFY"})
#: methods we know but do not serve outside a dialog: 405 with Allow; anything else gets 501
KNOWN_ELSEWHERE = frozenset({"INVITE", "REGISTER", "SUBSCRIBE", "REFER", "MESSAGE", "PUBLISH"})


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
    def unreachable(self, now: float) -> Sequence[object]: ...


@dataclass
class Leg:
    """A call (or registration) and where its signalling goes, with the handler of its
    other outputs (events). `follow_dialog`: in-dialog requests take the dialog's route set
    and remote target (a trunk, a proxy); off, they keep to `peer` (an agent's phone behind
    NAT is reachable only on the flow it registered from, whatever its Contact says)."""

    call: Party
    peer: Address
    on_output: Callable[[Any], None]
    follow_dialog: bool = True
    #: the call's deadline as last scheduled (None: nothing scheduled)
    due: float | None = None
    #: the call's Call-ID, kept: read at every scheduling, and a header lookup on the call
    call_id: str = ""


class SipEndpoint(asyncio.DatagramProtocol):
    """Owns the UDP socket; `place()` starts a call, outputs reach the call's handler."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._now = monotonic
        #: called with ("<" or ">", message, peer) for every message in or out (`voxcast call`)
        self.trace: Callable[[str, Message, Address], None] | None = None
        #: offered every request that belongs to no call; True when it took care of it
        self.on_request: Callable[[Request, Address], bool] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        #: the UDP transport's socket, read directly while datagrams wait (`_read_waiting`)
        self._socket: socket.socket | None = None
        self._legs: dict[str, Leg] = {}
        #: (deadline, order, Call-ID) of every leg with a timer pending, earliest first; an
        #: entry whose leg has moved its deadline since is stale and skipped. The ticker
        #: wakes only the calls whose time has come, not every call every 20 ms
        self._timers: list[tuple[float, int, str]] = []
        self._order = 0
        self._ticker: asyncio.Task[None] | None = None
        self._resolved: dict[str, str] = {}
        self._resolving: set[asyncio.Task[None]] = set()
        self.dropped = 0
        #: methods served outside calls by `on_request` besides OPTIONS (a registrar: REGISTER)
        self.serves: frozenset[str] = frozenset()
        #: whether this node takes new calls; OPTIONS (a dispatcher's probe) gets 503 when not
        self.ready: Callable[[], bool] | None = None

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
            # a duplicate of the transport's descriptor: asyncio hands out only a wrapper
            # that cannot read; closed with the transport (`connection_lost`)
            self._socket = sock.dup()
            self._socket.setblocking(False)
            # a burst of answers (hundreds of calls set up at once) must not overflow the
            # kernel's default buffer; the kernel caps this at net.core.rmem_max
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER_BYTES)
            # §18.4: an ICMP "port unreachable" is a transport error, not something to wait
            # 32 s of retransmissions for; Linux reports it only with IP_RECVERR
            with contextlib.suppress(OSError):
                if sock.family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)

    def place(
        self,
        call: Party,
        peer: Address,
        on_output: Callable[[Any], None],
        *,
        follow_dialog: bool = True,
    ) -> None:
        leg = Leg(call, peer, on_output, follow_dialog, call_id=call.call_id)
        self._legs[leg.call_id] = leg
        self._dispatch(leg, call.start(self._now()))

    def hangup(self, call_id: str, reason: str = "hung up by us") -> None:
        self.act(call_id, lambda now, call: call.hangup(now, reason))

    def act(self, call_id: str, step: Callable[[float, Any], Sequence[object]]) -> None:
        """Give a call one input now (`step(now, call)`, e.g. a hang-up with its cause) and
        send what it returns; nothing when the call is gone."""
        leg = self._legs.get(call_id)
        if leg is not None:
            self._dispatch(leg, step(self._now(), leg.call))

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.handle(data, (str(addr[0]), int(addr[1])))
        self._read_waiting()

    def _read_waiting(self) -> None:
        """Handle the datagrams already waiting in the socket, within the wake-up's bounds;
        the rest wait for the next loop pass, so RTP pacing is not held up for long."""
        sock = self._socket
        if sock is None:
            return
        until = time.perf_counter() + MAX_READ_SECONDS
        for _ in range(MAX_READS_PER_WAKE):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                self.error_received(err)  # an ICMP error queued (IP_RECVERR), as asyncio does
                return
            self.handle(data, (str(addr[0]), int(addr[1])))
            if time.perf_counter() >= until:
                return

    def handle(self, data: bytes, peer: Address) -> None:
        """One whole message from `peer` (a datagram, or a frame cut from a stream)."""
        try:
            message = parse(data)
        except SipParseError as err:
            self.dropped += 1
            log.info("dropped a datagram from %s:%s: %s", *peer, err)
            return
        if isinstance(message, Request):
            stamp_source(message, peer)  # before anyone copies its Vias into a response
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
        method = message.method
        allow = ", ".join([*ALLOW.split(", "), *sorted(self.serves)])
        if method == "OPTIONS":
            # proxies and load balancers probe us with it (keep-alive, health): 503 takes us
            # out of a dispatcher's set while we cannot take calls (no database, draining)
            status = 200 if self.ready is None or self.ready() else 503
        elif method in DIALOG_ONLY:
            status = 481
        elif method in KNOWN_ELSEWHERE or method in self.serves:
            status = 405
        else:
            status = 501  # §8.2.1: a method we do not know
        response = response_to(message, status, to_tag=new_tag())
        if status in (200, 405):
            response.headers.add("Allow", allow)
        if status == 200:
            response.headers.add("Accept", "application/sdp")
        self._send(response, peer)

    def _dispatch(self, leg: Leg, outputs: Sequence[object]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                if out.again:
                    message = out.message
                    metrics.sip_resent(
                        message.method if isinstance(message, Request) else "response"
                    )
                self._send_for(leg, out.message)
            else:
                leg.on_output(out)
        self._schedule(leg)

    def touch(self, call_id: str) -> None:
        """A call placed here was given an input directly, not through `act` (its timers may
        have changed): schedule it afresh."""
        leg = self._legs.get(call_id)
        if leg is not None:
            self._schedule(leg)

    def _schedule(self, leg: Leg) -> None:
        deadline = leg.call.deadline
        call_id = leg.call_id
        if deadline is None:
            leg.due = None
            # with no timer left a call moves only on an input, and every input passes here:
            # finished now, it is dropped now (no scan of thousands of held calls each tick)
            if leg.call.finished and self._legs.get(call_id) is leg:
                self._drop(call_id)
            return
        if deadline != leg.due:
            leg.due = deadline
            self._order += 1
            heapq.heappush(self._timers, (deadline, self._order, call_id))

    def _send_for(self, leg: Leg, message: Message) -> None:
        """Send a call's message: a response back along its Via, an in-dialog request along
        the dialog's route set (§8.1.2, §12.2.1.1), anything else to the call's peer."""
        if isinstance(message, Response):
            self._send(message, leg.peer)
            return
        if not (message.in_dialog and leg.follow_dialog):
            self._send(message, leg.peer)
            return
        try:
            hop = next_hop(message)
        except SipError:
            self._send(message, leg.peer)  # an unreadable route: the peer is our best guess
            return
        address = self._address_of(hop)
        if address is not None:
            self._send(message, address)
        else:
            self._resolve_then_send(hop, message)

    def _address_of(self, hop: Hop) -> Address | None:
        if hop.is_address:
            return hop.host, hop.port
        found = self._resolved.get(hop.host.lower())
        return None if found is None else (found, hop.port)

    def _resolve_then_send(self, hop: Hop, message: Message) -> None:
        """A route or target named by DNS name: resolved without blocking the loop (A/AAAA),
        remembered for the retransmissions and the rest of the dialog."""

        async def resolve() -> None:
            loop = asyncio.get_running_loop()
            try:
                found = await loop.getaddrinfo(hop.host, hop.port, proto=socket.IPPROTO_UDP)
            except OSError as err:
                log.info("cannot resolve %s: %s; the message was not sent", hop.host, err)
                return
            self._resolved[hop.host.lower()] = str(found[0][4][0])
            address = self._address_of(hop)
            if address is not None:
                self._send(message, address)

        task = asyncio.get_running_loop().create_task(resolve())
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    def _send(self, message: Message, peer: Address) -> None:
        if isinstance(message, Response):
            # §18.2.2 / RFC 3581: back to where the request came from, as its Via records
            peer = response_destination(message) or peer
        if self.trace is not None:
            self.trace(">", message, peer)
        try:
            data = serialize(message)
        except SipError:
            # e.g. a peer's header value we would echo holds a CR: drop it, keep serving
            log.exception("refused to send a malformed message")
            return
        self._write(data, peer)

    def _write(self, data: bytes, peer: Address) -> None:
        if self._transport is not None:
            self._transport.sendto(data, peer)

    async def _tick_forever(self) -> None:
        rescan_at = self._now() + RESCAN_SECONDS
        rescan: list[Leg] = []
        share = 1
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = self._now()
            if not rescan and now >= rescan_at:
                rescan_at = now + RESCAN_SECONDS
                rescan = list(self._legs.values())
                # a share each tick: 4,000 held calls read in one pass held the loop (and
                # the RTP pacer behind it) for milliseconds once a second
                share = int(len(rescan) * TICK_SECONDS / RESCAN_SECONDS) + 1
            for leg in rescan[-share:]:
                if self._legs.get(leg.call_id) is leg:
                    self._schedule(leg)
            del rescan[-share:]
            # the legs due now, each ticked once this pass (a tick may leave it due again)
            due: list[Leg] = []
            timers = self._timers
            while timers and timers[0][0] <= now:
                deadline, _, call_id = heapq.heappop(timers)
                timed = self._legs.get(call_id)
                if timed is not None and timed.due == deadline:
                    timed.due = None
                    due.append(timed)
            for leg in due:
                self._tick(leg, now)

    def _tick(self, leg: Leg, now: float) -> None:
        call_id = leg.call_id
        if self._legs.get(call_id) is not leg:
            return  # gone, or replaced, since it fell due
        try:
            self._dispatch(leg, leg.call.tick(now))
        except Exception:
            # one call's bug must not stop the timer every other call runs on
            log.exception("call %s failed on a timer; dropping it", call_id)
            self._drop(call_id)
            return
        if leg.call.finished:  # ended and past absorbing retransmissions
            self._drop(call_id)

    def _drop(self, call_id: str) -> None:
        self._legs.pop(call_id, None)

    def unreachable(self, address: Address, call_id: str | None = None) -> None:
        """A transport error towards `address` (ICMP unreachable, a refused connection): the
        call whose message bounced (`call_id`, when the error says which), or every call
        placed there, fails now (§8.1.3.1, §18.4) instead of after Timer B or F."""
        now = self._now()
        if call_id is not None:
            leg = self._legs.get(call_id)
            if leg is not None:
                self._dispatch(leg, leg.call.unreachable(now))
            return
        for leg in list(self._legs.values()):
            if leg.peer == address:
                self._dispatch(leg, leg.call.unreachable(now))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def error_received(self, exc: Exception) -> None:
        for address, call_id in self._bounced():
            log.info("SIP: %s:%s is unreachable (%s), call %s", *address, exc, call_id)
            self.unreachable(address, call_id)

    def _bounced(self) -> list[tuple[Address, str | None]]:
        """The datagrams the kernel reported errors for (IP_RECVERR): where each was going
        and, read from its own bytes, which call it belonged to. One bounced message fails
        its own call only (a far end still starting up refuses a few datagrams, not all)."""
        raw = self._socket
        if raw is None:
            return []
        bounced: list[tuple[Address, str | None]] = []
        try:
            for _ in range(64):
                data, _, _, address = raw.recvmsg(
                    MAX_MESSAGE_BYTES, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT
                )
                if not isinstance(address, tuple):
                    continue
                bounced.append(((str(address[0]), int(address[1])), _call_id_of(data)))
        except OSError:
            pass  # the queue is empty (or the platform has none)
        return bounced


_CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]+)", re.IGNORECASE)


def _call_id_of(data: bytes) -> str | None:
    """The Call-ID of a message we sent, from its bytes as the kernel returned them (an ICMP
    error may quote only the first few hundred bytes, so no whole parse is needed)."""
    found = _CALL_ID.search(data)
    return found.group(1).strip().decode("utf-8", "replace") if found else None


class _TcpConnection(asyncio.Protocol):
    """One stream under a `TcpSipEndpoint`: bytes cut into messages by Content-Length."""

    def __init__(self, endpoint: TcpSipEndpoint, peer: Address) -> None:
        self._endpoint = endpoint
        self.peer = peer
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except SipParseError as err:
            # a broken frame leaves the stream unreadable: drop the connection (§18.3)
            log.info("closing the SIP connection to %s:%s: %s", *self.peer, err)
            self._endpoint.dropped += 1
            if self.transport is not None:
                self.transport.close()
            return
        for frame in frames:
            self._endpoint.handle(frame, self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._endpoint.connection_lost_from(self)


class TcpSipEndpoint(SipEndpoint):
    """SIP over TCP: a connection to the trunk, reconnected when it drops (requests sent while
    it is down are lost; their transactions time out as on a dead UDP peer), and connections
    opened on demand to other hops (a Record-Route or remote target elsewhere)."""

    RECONNECT_SECONDS = 1.0

    def __init__(self, monotonic: Callable[[], float], local_host: str, peer: Address) -> None:
        super().__init__(monotonic)
        self.peer = peer
        self._local_host = local_host
        self._connections: dict[Address, _TcpConnection] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._local: Address = (local_host, 0)
        self._closed = False
        self._reconnecting: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, local_host: str, peer: Address, monotonic: Callable[[], float]
    ) -> TcpSipEndpoint:
        endpoint = cls(monotonic, local_host, peer)
        await endpoint._connect(peer)
        endpoint._ticker = asyncio.create_task(endpoint._tick_forever())
        return endpoint

    def _stream_options(self, peer: Address) -> dict[str, Any]:
        """Extra `create_connection` arguments for a connection to `peer` (TLS: its context)."""
        return {}

    async def _connect(self, peer: Address) -> _TcpConnection:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(
            lambda: _TcpConnection(self, peer),
            *peer,
            local_addr=(self._local_host, 0),
            **self._stream_options(peer),
        )
        if peer == self.peer:
            host, port = transport.get_extra_info("sockname")[:2]
            self._local = (str(host), int(port))
        self._connections[peer] = connection
        return connection

    @property
    def address(self) -> Address:
        return self._local

    def _write(self, data: bytes, peer: Address) -> None:
        connection = self._connections.get(peer)
        if connection is not None and connection.usable and connection.transport is not None:
            connection.transport.write(data)
            return
        if peer == self.peer:
            log.info("SIP connection to %s:%s is down; a message was not sent", *self.peer)
            self._reconnect_soon()
            return
        queued = self._pending.get(peer)
        if queued is not None:
            queued.append(data)
            return
        self._pending[peer] = [data]
        task = asyncio.get_running_loop().create_task(self._open_then_send(peer))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _open_then_send(self, peer: Address) -> None:
        try:
            connection = await self._connect(peer)
        except OSError as err:
            log.info("SIP: cannot connect to %s:%s: %s", *peer, err)
            self._pending.pop(peer, None)
            self.unreachable(peer)
            return
        for data in self._pending.pop(peer, []):
            if connection.transport is not None:
                connection.transport.write(data)

    def connection_lost_from(self, connection: _TcpConnection) -> None:
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]
            if connection.peer == self.peer:
                self._reconnect_soon()

    def _reconnect_soon(self) -> None:
        if self._closed or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closed and self.peer not in self._connections:
            await asyncio.sleep(self.RECONNECT_SECONDS)
            try:
                await self._connect(self.peer)
            except OSError as err:
                log.info("reconnecting to %s:%s failed: %s", *self.peer, err)

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await super().close()
        for connection in list(self._connections.values()):
            if connection.transport is not None:
                connection.transport.close()
        self._connections.clear()


TLS_HANDSHAKE_SECONDS = 10.0


def tls_context(
    ca_file: str | None = None,
    *,
    insecure: bool = False,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """A client context for SIP over TLS (RFC 3261 §26.3.1): the server's certificate checked
    against the system's CAs, or only against `ca_file` when given, and its name against the
    trunk's host; TLS 1.2 or later. `cert_file` (with `key_file`, unless the key is in the
    same PEM) is our client certificate, for carriers that authenticate by it (mutual TLS).
    `insecure` checks nothing: anyone on the path can read and change the calls (testing)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


def describe_tls_error(err: BaseException, peer: Address) -> str:
    """What a failed TLS connection means for the operator, in one line."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return (
            f"TLS: the certificate of {peer[0]}:{peer[1]} was refused ({err.verify_message}); "
            "give the trunk the CA that signed it (--tls-ca FILE) or fix its name"
        )
    if isinstance(err, ssl.SSLError):
        return f"TLS handshake with {peer[0]}:{peer[1]} failed: {err.reason or err}"
    return f"cannot connect to {peer[0]}:{peer[1]}: {err}"


class TlsSipEndpoint(TcpSipEndpoint):
    """SIP over TLS (RFC 3261 §26.2, hop by hop): a `TcpSipEndpoint` whose connections are
    TLS. The trunk's connection checks its certificate for `server_name` (the trunk's host as
    configured: a DNS name, or an IP address in the certificate's subjectAltName); a connection
    opened on demand to another hop is checked for that hop's IP address."""

    def __init__(
        self,
        monotonic: Callable[[], float],
        local_host: str,
        peer: Address,
        context: ssl.SSLContext,
        server_name: str,
    ) -> None:
        super().__init__(monotonic, local_host, peer)
        self._context = context
        self._server_name = server_name

    @classmethod
    async def connect_tls(
        cls,
        local_host: str,
        peer: Address,
        monotonic: Callable[[], float],
        context: ssl.SSLContext,
        server_name: str,
    ) -> TlsSipEndpoint:
        endpoint = cls(monotonic, local_host, peer, context, server_name)
        await endpoint._connect(peer)
        endpoint._ticker = asyncio.create_task(endpoint._tick_forever())
        return endpoint

    def _stream_options(self, peer: Address) -> dict[str, Any]:
        return {
            "ssl": self._context,
            "server_hostname": self._server_name if peer == self.peer else peer[0],
            "ssl_handshake_timeout": TLS_HANDSHAKE_SECONDS,
        }

    async def _connect(self, peer: Address) -> _TcpConnection:
        try:
            return await super()._connect(peer)
        except OSError as err:
            # ssl errors are OSErrors: the callers' handling stays; the log says what it was
            log.warning("SIP: %s", describe_tls_error(err, peer))
            raise
