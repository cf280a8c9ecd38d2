"""The SIP carrier: the `Carrier` port over a SIP trunk. Each call is an `OutboundCall` on the
trunk's signalling endpoint plus a `MediaStream` playing the prompt as G.711 RTP; the call's
SIP events become the port's events, timed on the injected clock."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from voxcast.audio import g711
from voxcast.audio.pcm import wav_bytes
from voxcast.audio.playback import RINGBACK, PromptAudio, PromptNotFound
from voxcast.ports import (
    AgentSlot,
    Answered,
    CallEvent,
    Clock,
    DialRequest,
    Dtmf,
    EarlyMedia,
    HangupBy,
    HungUp,
    PromptDone,
    Ringing,
    Transfer,
    TransferStarted,
)
from voxcast.telephony.rtp.media import MediaEngine, MediaStream
from voxcast.telephony.sip import sdp, useragent
from voxcast.telephony.sip.agentleg import AgentLeg
from voxcast.telephony.sip.dialog import Local
from voxcast.telephony.sip.digest import Credentials
from voxcast.telephony.sip.dns import ResolveError, Resolver, Target
from voxcast.telephony.sip.message import Message
from voxcast.telephony.sip.registration import (
    RETRY_SECONDS,
    Registered,
    Registration,
    RegistrationFailed,
)
from voxcast.telephony.sip.transport import (
    SipEndpoint,
    TcpSipEndpoint,
    TlsSipEndpoint,
    describe_tls_error,
    tls_context,
)
from voxcast.telephony.sip.useragent import OutboundCall, Output
from voxcast.telephony.transfer import Search

log = logging.getLogger("voxcast.sip.carrier")

Address = tuple[str, int]
RING_BACKSTOP_S = 10.0
#: an INVITE ending so before any provisional response but 100 (hop-by-hop) is tried once more
#: on the trunk's next target (RFC 3263 §4.3): 503 (also a transport error's) and 408 (none)
FAILOVER_CODES = frozenset({503, 408})
TRANSFER_WIND_DOWN_S = 5.0
#: the hold tone repeats for as long as anyone waits (an hour of 5 s cadences)
HOLD_LOOPS = 720


@dataclass(frozen=True)
class TrunkConfig:
    """Where and how calls go out: the far end's address, our credentials there, limits."""

    name: str
    host: str
    port: int | None = None  # None: located by DNS (NAPTR, SRV, then A/AAAA on 5060)
    transport: str = "udp"
    username: str | None = None
    password: str | None = None
    realm: str | None = None
    caller_id: str | None = None
    max_channels: int = 0  # 0: no limit of the trunk's own
    max_cps: float = 0.0
    codecs: tuple[int, ...] = (sdp.PCMU, sdp.PCMA)
    domain: str | None = None  # the host part of the Request-URI, when not `host`
    register: bool = False  # keep a REGISTER binding of username@domain while in use
    #: TLS only: trust this CA file (PEM) instead of the system's CAs
    tls_ca: str | None = None
    #: TLS only, testing only: accept any certificate (no protection against interception)
    tls_insecure: bool = False
    #: TLS only: our client certificate (PEM; the key in it or in `tls_key`)
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def credentials(self) -> Credentials | None:
        if not self.username:
            return None
        return Credentials(self.username, self.password or "", self.realm)


class TlsFailed(OSError):
    """The trunk's TLS connection could not be set up (refused certificate, handshake)."""


def _peer(target: Target) -> Address:
    return target.address, target.port


def local_address_towards(host: str, port: int) -> str:
    """Our address on the route to `host`: what the far end can reach us at (no packet is
    sent; connecting a UDP socket only picks the route)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


class _Limiter:
    """The trunk's own channel and calls-per-second limits (the account's are the dialer's)."""

    def __init__(self, channels: int, cps: float) -> None:
        self._channels = asyncio.Semaphore(channels) if channels > 0 else None
        self._interval = 1.0 / cps if cps > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self._channels is not None:
            await self._channels.acquire()
        if self._interval:
            async with self._lock:
                loop = asyncio.get_running_loop()
                wait = self._next - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next = max(self._next, loop.time()) + self._interval

    def release(self) -> None:
        if self._channels is not None:
            self._channels.release()


@dataclass
class CallStats:
    """What one call's media did: for `voxcast call` and the tests."""

    codec: int | None = None
    rtp_sent: int = 0
    rtp_received: int = 0
    rtp_strangers: int = 0
    to_agent: int = 0  # packets relayed from the callee to the agent while bridged
    to_callee: int = 0  # ...and from the agent to the callee
    recording: Path | None = None


class SipCall:
    """One call through the trunk; see `ports.Call`."""

    def __init__(self, carrier: SipCarrier, request: DialRequest) -> None:
        self._carrier = carrier
        self.request = request
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._hangup_requested = asyncio.Event()
        self._call: OutboundCall | None = None
        self._targets: list[Target] = []  # where the next attempt goes (at most one more)
        self._attempt = 0
        self._media: MediaStream | None = None
        self._answered = False
        self._ended = False
        self._timers: list[asyncio.Task[None]] = []
        self._ring_timer_started = False
        self._ring_timeout_at: datetime | None = None
        self._answered_at: datetime | None = None
        self._ringing_at = carrier.clock.now()
        self._talk_timer: asyncio.Future[None] | None = None
        self._transferring = False
        self._callee_gone = asyncio.Event()
        self._agent: AgentLeg | None = None
        self._agent_hung_up = False
        self._transfer_task: asyncio.Future[None] | None = None
        self.stats = CallStats()
        self.call_id = secrets.token_hex(12)

    # -- the port -------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[CallEvent]:
        limiter = self._carrier.limiter
        await limiter.acquire()
        self._carrier.in_progress += 1
        try:
            if not self._hangup_requested.is_set():
                await self._place()
            else:
                self._emit_end(487, HangupBy.US, "hung up by us")
            while True:
                event = await self._queue.get()
                yield event
                if isinstance(event, HungUp):
                    return
        finally:
            limiter.release()
            await self._cleanup()
            self._carrier.in_progress -= 1

    async def hangup(self) -> None:
        self._hangup_requested.set()
        self._callee_gone.set()
        self._hang_up("hung up by us")

    # -- placing the call -----------------------------------------------------------------
    async def _place(self) -> None:
        carrier = self._carrier
        try:
            targets = await carrier.targets()
        except ResolveError as err:
            self._emit_end(503, HangupBy.NETWORK, str(err))
            return
        try:
            endpoint = await carrier.endpoint()
            self._media = await carrier.media.open_stream()
        except TlsFailed as err:
            self._emit_end(503, HangupBy.NETWORK, str(err))
            return
        except OSError as err:
            self._emit_end(503, HangupBy.NETWORK, f"cannot open sockets: {err}")
            return
        self._media.on_dtmf = self._on_dtmf
        self._targets = targets[:2]
        self._invite(endpoint)

    def _invite(self, endpoint: SipEndpoint) -> None:
        """Send the INVITE to the first target left, as a call of its own (a new Call-ID: the
        previous attempt may still be absorbing retransmissions on the same endpoint)."""
        assert self._media is not None
        carrier = self._carrier
        trunk = carrier.trunk
        target = self._targets.pop(0)
        self._attempt += 1
        local_port = endpoint.address[1]
        local_host = carrier.public_host or endpoint.address[0]
        domain = trunk.domain or trunk.host
        port = f":{trunk.port}" if trunk.port is not None else ""
        caller = self.request.caller_id or trunk.caller_id or "voxcast"
        session_id = secrets.randbelow(2**31)
        attempt = "" if self._attempt == 1 else f"-{self._attempt}"
        self._call = OutboundCall(
            local=Local(local_host, local_port, trunk.transport.upper()),
            target_uri=f"sip:{self.request.callee}@{domain}{port}",
            to_uri=f"sip:{self.request.callee}@{domain}",
            from_uri=f"sip:{caller}@{domain}",
            call_id=f"{self.call_id}{attempt}@voxcast",
            from_tag=secrets.token_hex(6),
            sdp_offer=sdp.offer(local_host, self._media.port, session_id, trunk.codecs),
            credentials=trunk.credentials,
            # a backstop from the INVITE for a far end that never rings; the ring time
            # proper (maxRingingTime) counts from the first provisional, as in the sandbox
            ring_timeout=float(self.request.max_ringing_s) + RING_BACKSTOP_S,
            codecs=trunk.codecs,
        )
        call, number = self._call, self._attempt
        log.debug("call %s: INVITE to %s:%s (attempt %s)", self.call_id, *_peer(target), number)

        def on_output(out: Output) -> None:
            if number == self._attempt:  # a superseded attempt's late events are not ours
                self._on_output(out, call)

        endpoint.place(call, _peer(target), on_output)

    def _fails_over(self, out: useragent.Ended, call: OutboundCall) -> bool:
        """§4.3: retry on the next target when this attempt failed before the far end
        answered anything but 100 Trying, and nobody asked for the call to end."""
        if out.code not in FAILOVER_CODES or call.progressed or not self._targets:
            return False
        if self._hangup_requested.is_set() or self._ended or self._ring_timer_started:
            return False
        endpoint = self._carrier.endpoint_if_open
        if endpoint is None:
            return False
        log.info("call %s: %s %s; trying the next target", self.call_id, out.code, out.reason)
        self._invite(endpoint)
        return True

    def _on_output(self, out: Output, call: OutboundCall) -> None:
        now = self._carrier.clock.now()
        if isinstance(out, useragent.Ringing):
            self._ringing()
            self._put(Ringing(now))
        elif isinstance(out, useragent.EarlyMedia):
            self._ringing()
            self._connect_media(out.media)
            self._put(EarlyMedia(now))
        elif isinstance(out, useragent.Answered):
            self._connect_media(out.media)
            self._answered = True
            self._answered_at = now
            self._put(Answered(now))
            self._talk_timer = self._after(self.request.max_talk_s, self._talk_limit)
            self._timers.append(asyncio.ensure_future(self._play()))
        elif isinstance(out, useragent.MediaChanged):
            self._connect_media(out.media)
        elif isinstance(out, useragent.DtmfInfo):
            self._on_dtmf(out.digit)
        elif isinstance(out, useragent.Ended):
            if self._fails_over(out, call):
                return
            self._callee_gone.set()
            if self._agent is not None:
                self._agent.hangup()
            if self._agent_hung_up:
                self._emit_end(out.code, HangupBy.AGENT, "agent hung up")
            elif self._ring_timeout_at is not None and not self._answered:
                # we cancelled because nobody answered: a 480 at the moment we gave up
                self._emit_end(480, HangupBy.US, "no answer", at=self._ring_timeout_at)
            else:
                self._emit_end(out.code, out.by, out.reason)

    def _ringing(self) -> None:
        if self._ring_timer_started:
            return
        self._ring_timer_started = True
        self._ringing_at = self._carrier.clock.now()
        self._after(self.request.max_ringing_s, self._ring_timeout)

    def _ring_timeout(self) -> None:
        if not self._answered and not self._ended:
            # the ring time ran out at this instant; the timer itself may wake a little later
            self._ring_timeout_at = self._ringing_at + timedelta(seconds=self.request.max_ringing_s)
            self._hang_up("no answer")

    def _connect_media(self, media: sdp.Media) -> None:
        if self._media is None:
            return
        self.stats.codec = media.codec
        self._media.start(
            (media.address, media.port),
            media.codec,
            media.dtmf_payload,
            record=self.request.record,
            max_record_s=float(self.request.max_talk_s) + 5,
        )
        if media.on_hold:
            self._media.hold()  # the prompt pauses where it is; the resume continues it
        else:
            self._media.resume()

    async def _play(self) -> None:
        request = self.request
        if request.delay_play_s > 0:
            await self._carrier.clock.sleep(request.delay_play_s)
        media = self._media
        if media is None or self._ended or self.stats.codec is None:
            return
        try:
            audio = await self._carrier.prompts.g711(request.prompt.ref, self.stats.codec)
        except PromptNotFound as err:
            log.warning("call %s: %s", self.call_id, err)
            self._hang_up("prompt missing")
            return
        await media.play(audio, max(1, request.loop_count))
        if self._ended or self._transferring:
            return
        self._put(PromptDone(self._carrier.clock.now()))
        if request.transfer is not None and request.transfer.mode == 1:
            self._start_transfer()
            return
        if request.delay_hangup_s > 0:
            await self._carrier.clock.sleep(request.delay_hangup_s)
        self._hang_up("normal clearing")

    def _after(self, seconds: float, action: Callable[[], None]) -> asyncio.Future[None]:
        async def later() -> None:
            await self._carrier.clock.sleep(seconds)
            action()

        timer = asyncio.ensure_future(later())
        self._timers.append(timer)
        return timer

    def _talk_limit(self) -> None:
        self._hang_up("maximum call duration reached")

    def _hang_up(self, reason: str) -> None:
        call = self._call
        if call is None or self._ended:
            return
        endpoint = self._carrier.endpoint_if_open
        if endpoint is not None:
            endpoint.hangup(call.call_id, reason)

    def _on_dtmf(self, key: str) -> None:
        if self.request.collect_dtmf and not self._ended:
            self._put(Dtmf(key, self._carrier.clock.now()))
        transfer = self.request.transfer
        if transfer is not None and transfer.mode == 2 and key == transfer.key:
            elapsed = self._carrier.clock.now() - (self._answered_at or self._carrier.clock.now())
            self._after(max(0.0, transfer.delay_s - elapsed.total_seconds()), self._start_transfer)

    # -- transfer to an agent ----------------------------------------------------------------
    def _start_transfer(self) -> None:
        transfer = self.request.transfer
        if transfer is None or self._transferring or self._ended or not self._answered:
            return
        self._transferring = True
        if self._talk_timer is not None:  # the agent conversation has its own limit
            self._talk_timer.cancel()
        if self._media is not None:
            self._media.stop_playing()
        self._put(TransferStarted(self._carrier.clock.now()))
        self._timers.append(asyncio.ensure_future(self._play_hold()))
        # not a timer: it must finish (and free the agent) even when the call ends first
        self._transfer_task = asyncio.ensure_future(self._run_transfer(transfer))

    async def _play_hold(self) -> None:
        """Ringback while the callee waits; the agent's answer stops it (the bridge)."""
        media, codec = self._media, self.stats.codec
        if media is None or codec is None:
            return
        tone = await self._carrier.prompts.g711(RINGBACK, codec)
        if self._agent is None and not self._callee_gone.is_set():
            media.play(tone, HOLD_LOOPS)

    async def _run_transfer(self, transfer: Transfer) -> None:
        clock = self._carrier.clock
        search = Search(transfer, clock, self._ring_agent, self._callee_gone)
        async for event in search.run():
            self._put(event)
        agent = self._agent
        if search.answered is None or agent is None:
            if not self._callee_gone.is_set():
                self._hang_up("no agent free")
            return
        try:
            waits = [
                asyncio.ensure_future(self._callee_gone.wait()),
                asyncio.ensure_future(agent.ended.wait()),
                asyncio.ensure_future(clock.sleep(transfer.max_talk_s)),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if not self._callee_gone.is_set():
                if agent.ended.is_set():
                    self._agent_hung_up = True
                    self._hang_up("agent hung up")
                else:
                    agent.hangup()
                    self._hang_up("maximum call duration reached")
            else:
                agent.hangup()
        finally:
            await transfer.desk.release(search.answered, talked=True)

    async def _ring_agent(self, slot: AgentSlot) -> bool:
        if self._media is None or self.stats.codec is None:
            return False
        carrier = self._carrier
        endpoint = await carrier.agent_endpoint()
        leg = AgentLeg(
            endpoint=endpoint,
            media=await carrier.media.open_stream(),
            callee_media=self._media,
            slot=slot,
            codec=self.stats.codec,
            caller=self.request.callee,
            local_host=carrier.public_host or endpoint.address[0],
        )
        self._agent = leg
        gone = asyncio.ensure_future(self._callee_gone.wait())
        ringing = asyncio.ensure_future(leg.ring())
        await asyncio.wait({gone, ringing}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if ringing.done() and ringing.result() and not self._callee_gone.is_set():
            return True
        leg.hangup()  # the callee left while the agent's phone rang
        ringing.cancel()
        leg.close()
        self._agent = None
        return False

    def _put(self, event: CallEvent) -> None:
        if not self._ended:
            self._queue.put_nowait(event)

    def _emit_end(self, code: int, by: HangupBy, reason: str, at: datetime | None = None) -> None:
        if self._ended:
            return
        if self._media is not None:
            self._media.stop_playing()
        self._queue.put_nowait(HungUp(at or self._carrier.clock.now(), by, code, reason))
        self._ended = True

    async def _cleanup(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._transfer_task is not None:
            self._callee_gone.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._transfer_task), TRANSFER_WIND_DOWN_S)
            except Exception:
                log.exception("call %s: the transfer did not wind down", self.call_id)
        if self._agent is not None:
            self._agent.hangup()
            self.stats.to_agent = self._agent.media.relayed
            self.stats.to_callee = self._media.relayed if self._media else 0
            self._agent.close()
        media = self._media
        if media is not None:
            reception = media.reception
            self.stats.rtp_sent = media.sent
            if reception is not None:
                self.stats.rtp_received = reception.received
                self.stats.rtp_strangers = reception.strangers
                if self.request.record and reception.audio:
                    self.stats.recording = await asyncio.to_thread(
                        self._carrier.save_recording, self.call_id, reception.codec, reception.audio
                    )
            media.close()
        if not self._ended:  # the consumer stopped reading early: end the call for it
            self._hang_up("hung up by us")


class SipCarrier:
    """Places calls through one trunk. Opens its signalling endpoint on first use, on our
    address towards the trunk (or `bind_host`), and shares `media` with other trunks."""

    def __init__(
        self,
        trunk: TrunkConfig,
        clock: Clock,
        media: MediaEngine,
        prompts: PromptAudio,
        *,
        bind_host: str | None = None,
        bind_port: int = 0,
        public_host: str | None = None,
        recordings: Path | None = None,
        trace: Callable[[str, Message, Address], None] | None = None,
        agents_endpoint: Callable[[], SipEndpoint | None] = lambda: None,
        resolver: Resolver | None = None,
    ) -> None:
        self.trunk = trunk
        self.clock = clock
        self.media = media
        self.prompts = prompts
        self.recordings = recordings
        self.limiter = _Limiter(trunk.max_channels, trunk.max_cps)
        self._bind = (bind_host, bind_port)
        self.public_host = public_host
        self.peer: Address = (trunk.host, trunk.port or 5060)
        #: RFC 3263 location of the trunk (the system's DNS unless told otherwise)
        self.resolver = resolver or Resolver()
        self._trace = trace
        self._registrar_endpoint = agents_endpoint
        self.in_progress = 0  # calls placed and not yet ended (a retired trunk waits for 0)
        self._endpoint: SipEndpoint | None = None
        self._agents_endpoint: SipEndpoint | None = None
        self._opening = asyncio.Lock()
        self.calls: list[SipCall] = []
        self.registration: Registration | None = (
            None  # the last calls, for `voxcast call` and tests
        )

    #: transfers ring registered agents' softphones (status idle, with a contact)
    virtual_agents = False

    @property
    def endpoint_if_open(self) -> SipEndpoint | None:
        return self._endpoint

    async def agent_endpoint(self) -> SipEndpoint:
        """The endpoint agents' phones are rung from: the registrar's socket, where their
        REGISTERs came in (a port-restricted NAT lets nothing else through); without a
        registrar in this process, the trunk's own when it is UDP."""
        registrar = self._registrar_endpoint()
        if registrar is not None:
            return registrar
        endpoint = await self.endpoint()
        if self.trunk.transport == "udp":
            return endpoint
        if self._agents_endpoint is None:
            loop = asyncio.get_running_loop()
            host = self._bind[0] or endpoint.address[0]
            self._agents_endpoint = await SipEndpoint.open(host, 0, loop.time)
        return self._agents_endpoint

    async def targets(self) -> list[Target]:
        """Where the trunk's INVITEs go, in order (RFC 3263; cached for the DNS TTL), of
        the trunk's transport and of one address family (the socket's)."""
        trunk = self.trunk
        found = await self.resolver.resolve(trunk.host, trunk.port, (trunk.transport,))
        family = ":" in found[0].address
        return [t for t in found if (":" in t.address) == family]

    async def endpoint(self) -> SipEndpoint:
        async with self._opening:
            if self._endpoint is None:
                loop = asyncio.get_running_loop()
                targets = await self.targets()
                self.peer = _peer(targets[0])
                host = self._bind[0] or local_address_towards(*self.peer)
                if self.trunk.transport == "tls":
                    self._endpoint = await self._connect_tls(host, self.peer)
                elif self.trunk.transport == "tcp":
                    self._endpoint = await self._connect_tcp(host, targets, loop.time)
                else:
                    self._endpoint = await SipEndpoint.open(host, self._bind[1], loop.time)
                self._endpoint.trace = self._trace
                if self.trunk.register and self.trunk.credentials is not None:
                    self._register(self._endpoint)
            return self._endpoint

    async def _connect_tls(self, host: str, peer: Address) -> TlsSipEndpoint:
        trunk = self.trunk
        try:
            context = tls_context(
                trunk.tls_ca,
                insecure=trunk.tls_insecure,
                cert_file=trunk.tls_cert,
                key_file=trunk.tls_key,
            )
        except OSError as err:  # a missing or unreadable CA, certificate or key file
            message = f"trunk {trunk.name}: cannot load its TLS files: {err}"
            log.warning("%s", message)
            raise TlsFailed(message) from err
        if trunk.tls_insecure:
            log.warning(
                "trunk %s: --tls-insecure: the certificate of %s is NOT checked; anyone on the "
                "path can read and change these calls",
                trunk.name,
                trunk.host,
            )
        loop = asyncio.get_running_loop()
        try:
            return await TlsSipEndpoint.connect_tls(host, peer, loop.time, context, trunk.host)
        except OSError as err:
            raise TlsFailed(f"trunk {trunk.name}: {describe_tls_error(err, peer)}") from err

    async def _connect_tcp(
        self, host: str, targets: list[Target], monotonic: Callable[[], float]
    ) -> TcpSipEndpoint:
        """The connection to the first target that takes one (§4.3: the next on a refusal)."""
        for target in targets[:-1]:
            try:
                endpoint = await TcpSipEndpoint.connect(host, _peer(target), monotonic)
            except OSError as err:
                log.info("trunk %s: %s:%s refused (%s)", self.trunk.name, *_peer(target), err)
                continue
            self.peer = _peer(target)
            return endpoint
        self.peer = _peer(targets[-1])
        return await TcpSipEndpoint.connect(host, self.peer, monotonic)

    def _register(self, endpoint: SipEndpoint) -> None:
        trunk = self.trunk
        assert trunk.credentials is not None
        host, port = endpoint.address
        domain = trunk.domain or trunk.host
        self.registration = Registration(
            local=Local(self.public_host or host, port, trunk.transport.upper()),
            registrar_uri=f"sip:{domain}" + (f":{trunk.port}" if trunk.port else ""),
            aor=f"sip:{trunk.credentials.username}@{domain}",
            credentials=trunk.credentials,
        )
        endpoint.place(self.registration, self.peer, self._registration_event)

    def _registration_event(self, event: object) -> None:
        if isinstance(event, Registered):
            log.info("trunk %s: registered for %s s", self.trunk.name, event.expires)
        elif isinstance(event, RegistrationFailed):
            log.warning(
                "trunk %s: registration failed (%s %s); retrying in %.0f s",
                self.trunk.name,
                event.code,
                event.reason,
                RETRY_SECONDS,
            )

    @property
    def registered(self) -> bool:
        reg = self.registration
        if reg is None or reg.registered_until is None:
            return False
        return reg.registered_until > asyncio.get_running_loop().time()

    async def dial(self, request: DialRequest) -> SipCall:
        call = SipCall(self, request)
        self.calls.append(call)
        del self.calls[:-100]
        return call

    def save_recording(self, call_id: str, codec: int, audio: bytes) -> Path | None:
        if self.recordings is None:
            return None
        decode = g711.alaw_decode if codec == sdp.PCMA else g711.ulaw_decode
        self.recordings.mkdir(parents=True, exist_ok=True)
        path = self.recordings / f"{call_id}.wav"
        path.write_bytes(wav_bytes(decode(audio)))
        return path

    async def close(self) -> None:
        if self._endpoint is not None and self.registration is not None:
            # remove our binding; give the registrar a moment to answer
            self._endpoint.hangup(self.registration.call_id)
            for _ in range(50):
                if self.registration.finished:
                    break
                await asyncio.sleep(0.02)
        if self._endpoint is not None:
            await self._endpoint.close()
            self._endpoint = None
        if self._agents_endpoint is not None:
            await self._agents_endpoint.close()
            self._agents_endpoint = None
