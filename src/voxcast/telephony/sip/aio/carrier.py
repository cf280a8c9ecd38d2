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
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.audio.playback import RINGBACK, PromptAudio, PromptNotFound
from voxcast.domain.amd import AmdResult, AmdSettings, GreetingOver, Verdict
from voxcast.ports import (
    OPTED_OUT,
    AgentAnswered,
    AmdDecided,
    Answered,
    BargedIn,
    CalleeSaid,
    CalleeSpeaking,
    CallEvent,
    Clock,
    Conversation,
    DialRequest,
    Dtmf,
    EarlyMedia,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    Recorded,
    ReservedAgent,
    Ringing,
    Transfer,
    TransferStarted,
)
from voxcast.services.browser_agents import is_browser
from voxcast.telephony.callcenter.transfer import Search
from voxcast.telephony.callcenter.webrtc import BrowserLeg
from voxcast.telephony.rtp.media import MediaEngine, MediaStream
from voxcast.telephony.sip.aio.agentleg import AgentLeg
from voxcast.telephony.sip.aio.dns import ResolveError, Resolver, Target
from voxcast.telephony.sip.aio.transport import (
    SipEndpoint,
    TcpSipEndpoint,
    TlsSipEndpoint,
    describe_tls_error,
    tls_context,
)
from voxcast.telephony.sip.core import sdes, sdp, useragent
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.digest import Credentials
from voxcast.telephony.sip.core.message import Message
from voxcast.telephony.sip.core.registration import (
    RETRY_SECONDS,
    Registered,
    Registration,
    RegistrationFailed,
)
from voxcast.telephony.sip.core.session import Action, Ended, Event, Role, Session
from voxcast.telephony.sip.core.useragent import OutboundCall, Output

if TYPE_CHECKING:
    from voxcast.audio.hearing.ear import Ear, HearingEvent

log = logging.getLogger("voxcast.sip.carrier")

Address = tuple[str, int]
RING_BACKSTOP_S = 10.0
#: an INVITE ending so before any provisional response but 100 (hop-by-hop) is tried once more
#: on the trunk's next target (RFC 3263 §4.3): 503 (also a transport error's) and 408 (none)
FAILOVER_CODES = frozenset({503, 408})
TRANSFER_WIND_DOWN_S = 5.0
#: the hold tone repeats for as long as anyone waits (an hour of 5 s cadences)
HOLD_LOOPS = 720
#: a far end that sends no audio gives the detector no frames: its verdict (NOTSURE) comes
#: from the clock this long after the analysis time
AMD_GRACE_S = 1.0
#: after a MACHINE verdict the message is left at the latest this long after it (the media's
#: listener says so itself at 20 s of its audio; this bounds a far end gone quiet)
GREETING_WAIT_S = 21.0


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
    #: SRTP with SDES keys (RFC 4568): off, optional (RTP/AVP with keys, plain RTP if the
    #: answer has none) or mandatory (RTP/SAVP: an answer without keys fails the call)
    srtp: str = "off"

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
        if not self._interval:
            return
        try:
            async with self._lock:
                loop = asyncio.get_running_loop()
                wait = self._next - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next = max(self._next, loop.time()) + self._interval
        except BaseException:
            # given up while waiting for its turn (cancelled): the call is never placed and
            # its caller never releases, so the channel goes back here
            self.release()
            raise

    def release(self) -> None:
        if self._channels is not None:
            self._channels.release()


@dataclass
class CallStats:
    """What one call's media did: for `voxcast call` and the tests."""

    codec: int | None = None
    rtp_sent: int = 0
    #: frames of our audio never sent: the event loop stalled past the pacer's catch-up window
    rtp_dropped: int = 0
    rtp_received: int = 0
    rtp_strangers: int = 0
    to_agent: int = 0  # packets relayed from the callee to the agent while bridged
    to_callee: int = 0  # ...and from the agent to the callee
    recording: Path | None = None  # the callee's side (mono)
    recording_full: Path | None = None  # both sides (stereo)
    srtp: str | None = None  # the SRTP suite of the call's media, None for plain RTP
    srtp_failed: int = 0  # packets dropped because they were not authentic


@dataclass(eq=False)
class _Saying:
    """A prompt a conversation call was told to say; `over` once its PromptDone is out."""

    prompt: Prompt
    interruptible: bool
    playing: bool = False
    over: bool = False


class SipCall:
    """One call through the trunk; see `ports.Call`. A conversation call's media stays in
    this process even with media workers: its hearing stops a barged-in prompt inline, on the
    packet that decides it, which a worker's stream could only do a round trip later."""

    def __init__(self, carrier: SipCarrier, request: DialRequest) -> None:
        self._carrier = carrier
        self.request = request
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._hangup_requested = asyncio.Event()
        self._call: OutboundCall | None = None
        self._targets: list[Target] = []  # where the next attempt goes (at most one more)
        self._attempt = 0
        self._media: MediaStream | None = None
        #: the call's lifecycle (calling, ringing, early, answered, held, ending, ended): the
        #: current attempt's user agent drives it, this class reads it (`core.session`)
        self._session = Session(Role.UAC)
        self._timers: list[asyncio.Task[None]] = []
        self._ring_timer: asyncio.Future[None] | None = None  # from the first ring
        self._ring_timeout_at: datetime | None = None  # the ring time ran out at
        self._answered_at: datetime | None = None
        self._ringing_at = carrier.clock.now()
        self._talk_timer: asyncio.Future[None] | None = None
        self._callee_gone = asyncio.Event()
        self._agent: AgentLeg | BrowserLeg | None = None
        self._callee_info: dict[str, str] | None = None
        self._transfer_task: asyncio.Future[None] | None = None
        #: click-to-call: the caller's phone, answered, that this call is bridged to
        self._phone = request.bridge if isinstance(request.bridge, SipPhone) else None
        #: answering-machine detection's verdict, once reached; what waits for it
        self.amd: AmdResult | None = None
        self._amd_timer: asyncio.Future[None] | None = None
        self._message_left = False
        #: the opt-out key was pressed: the confirmation plays, nothing else does; its audio
        #: is fetched at the answer so that it follows the key at once
        self.opted_out = False
        self._confirmation: asyncio.Future[bytes] | None = None
        self._bridged = False  # an agent took the call: the opt-out key is only reported
        #: a conversation call handed to agents (`hand_over`): the robot no longer hears it
        self._handed_over: Transfer | None = None
        #: conversation calls: the prompt said last, until its PromptDone
        self._saying: _Saying | None = None
        self._ear: Ear | None = None
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
                self._end_unplaced(487, HangupBy.US, "hung up by us")
            while True:
                event = await self._queue.get()
                if isinstance(event, HungUp) and self.request.record:
                    recorded = await self._save_recording(event.at)
                    if recorded is not None:
                        yield recorded
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

    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        if self.request.conversation is None:
            raise RuntimeError("say() is for conversation calls")
        if self._answered_at is None:
            raise RuntimeError("say() before the callee answered")
        self.hush()  # the prompt playing, if any, is replaced: its PromptDone first
        saying = _Saying(prompt, interruptible)
        self._saying = saying
        if (
            self._session.over
            or self.opted_out
            or self._handed_over is not None
            or self._media is None
        ):
            self._end_prompt(saying)  # nothing plays any more; still its one PromptDone
            return
        self._timers = [timer for timer in self._timers if not timer.done()]
        self._timers.append(asyncio.ensure_future(self._say(saying)))

    def hush(self) -> None:
        if self.request.conversation is None:
            raise RuntimeError("hush() is for conversation calls")
        if self._media is not None:
            self._media.stop_playing()  # the pacer sends nothing more of it from this tick
        self._end_prompt()

    def hand_over(self, transfer: Transfer) -> None:
        if self.request.conversation is None:
            raise RuntimeError("hand_over() is for conversation calls")
        if self._answered_at is None:
            raise RuntimeError("hand_over() before the callee answered")
        if self._handed_over is not None or self._session.over:
            return
        self._handed_over = transfer
        self.hush()
        self._start_transfer()

    @property
    def rtp_sent(self) -> int:
        """Packets of our audio sent so far (the stats have them once the call is over)."""
        return self._media.sent if self._media is not None else self.stats.rtp_sent

    # -- placing the call -----------------------------------------------------------------
    async def _place(self) -> None:
        carrier = self._carrier
        try:
            targets = await carrier.targets()
        except ResolveError as err:
            self._end_unplaced(503, HangupBy.NETWORK, str(err))
            return
        try:
            endpoint = await carrier.endpoint()
            if self.request.conversation is not None:
                self._media = await carrier.media.open_local_stream()
            else:
                self._media = await carrier.media.open_stream()
        except TlsFailed as err:
            self._end_unplaced(503, HangupBy.NETWORK, str(err))
            return
        except OSError as err:
            self._end_unplaced(503, HangupBy.NETWORK, f"cannot open sockets: {err}")
            return
        self._media.on_dtmf = self._on_dtmf
        self._media.on_lost = self._on_media_lost
        self._targets = targets[:2]
        self._invite(endpoint)
        if self._phone is not None:
            self._timers.append(asyncio.ensure_future(self._watch_phone(self._phone)))

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
        codecs = trunk.codecs
        if self._phone is not None and self._phone.leg.codec in codecs:
            # the phone's codec only: the bridge relays packets as they come, no transcoding
            codecs = (self._phone.leg.codec,)
        srtp = None
        if trunk.srtp != "off":  # a fresh key for each attempt: each is a call of its own
            cryptos = sdes.offer_cryptos(sdes.new_key())
            srtp = sdes.SrtpOffer(cryptos, mandatory=trunk.srtp == "mandatory")
        attempt = "" if self._attempt == 1 else f"-{self._attempt}"
        self._session = Session(Role.UAC)  # each attempt is a call of its own
        self._call = OutboundCall(
            session=self._session,
            local=Local(local_host, local_port, trunk.transport.upper()),
            target_uri=f"sip:{self.request.callee}@{domain}{port}",
            to_uri=f"sip:{self.request.callee}@{domain}",
            from_uri=f"sip:{caller}@{domain}",
            call_id=f"{self.call_id}{attempt}@voxcast",
            from_tag=secrets.token_hex(6),
            sdp_offer=sdp.offer(local_host, self._media.port, session_id, codecs, srtp=srtp),
            credentials=trunk.credentials,
            # a backstop from the INVITE for a far end that never rings; the ring time
            # proper (maxRingingTime) counts from the first provisional, as in the sandbox
            ring_timeout=float(self.request.max_ringing_s) + RING_BACKSTOP_S,
            codecs=codecs,
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
        # (this attempt's session has ended; the call goes on with the next one)
        if self._hangup_requested.is_set() or self._ring_timer is not None:
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
            self._answered_at = now
            self._record()
            self._put(Answered(now))
            self._talk_timer = self._after(self.request.max_talk_s, self._talk_limit)
            if self._phone is None:  # a bridged callee hears the phone, not a prompt
                self._fetch_confirmation()
                amd = self.request.amd
                if amd is not None:
                    self._listen(amd)
                conversation = self.request.conversation
                if conversation is not None:
                    self._hear(conversation)  # and nothing plays until the dialer says so
                elif amd is None or not self.request.voicemail_drop:
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
            if self._phone is not None:
                self._phone.leg.hangup()
            # the end is the session's: the first cause wins (ours: agent, phone, no answer)
            at = None
            if self._ring_timeout_at is not None and not self._session.answered:
                at = self._ring_timeout_at  # nobody answered: the end is when we gave up
            self._emit_end(out.code, out.by, out.reason, at)

    def _ringing(self) -> None:
        if self._ring_timer is not None:
            return
        self._ringing_at = self._carrier.clock.now()
        self._ring_timer = self._after(self.request.max_ringing_s, self._ring_timeout)

    def _ring_timeout(self) -> None:
        if self._session.early:
            # the ring time ran out at this instant; the timer itself may wake a little later
            self._ring_timeout_at = self._ringing_at + timedelta(seconds=self.request.max_ringing_s)
            self._hang_up("no answer", code=480)

    def _connect_media(self, media: sdp.Media) -> None:
        if self._media is None:
            return
        self.stats.codec = media.codec
        self.stats.srtp = media.srtp.suite if media.srtp is not None else None
        self._media.start(
            (media.address, media.port),
            media.codec,
            media.dtmf_payload,
            srtp=media.srtp,
        )
        if media.on_hold:
            self._media.hold()  # the prompt pauses where it is; the resume continues it
        else:
            self._media.resume()
        if self._phone is not None:
            # early media too: the phone hears the callee's own ringback or announcement
            self._phone.leg.bridge(self._media)

    def _record(self) -> None:
        """The recording starts at the answer: early media (a 183's announcement, ringback)
        is not the call."""
        folder = self._carrier.recordings
        if self._media is not None and self.request.record and folder is not None:
            self._media.record(folder, self.call_id, float(self.request.max_talk_s) + 5)

    # -- answering machines ----------------------------------------------------------------
    def _listen(self, settings: AmdSettings) -> None:
        """Detection on the callee's audio from the answer (in the media's process)."""
        if self._media is None:
            return
        greeting_end = self.request.voicemail_drop and self.request.conversation is None
        self._media.listen_for_machine(settings, greeting_end=greeting_end, on_heard=self._heard)
        wait = settings.total_analysis_time / 1000 + AMD_GRACE_S
        self._amd_timer = self._after(wait, lambda: self._no_verdict(settings))

    def _no_verdict(self, settings: AmdSettings) -> None:
        ms = settings.total_analysis_time
        self._decided(AmdResult(Verdict.NOTSURE, f"TOOLONG-{ms}", ms))

    def _heard(self, event: AmdResult | GreetingOver) -> None:
        if isinstance(event, AmdResult):
            self._decided(event)
        else:
            self._leave_message()

    def _decided(self, result: AmdResult) -> None:
        """The verdict, once: reported, then acted on (hang up on a machine, or wait for its
        beep to leave the message; a voicemail drop's person hears the prompt now)."""
        if self.amd is not None or self._session.over:
            return
        self.amd = result
        if self._amd_timer is not None:
            self._amd_timer.cancel()
        self._put(AmdDecided(result, self._carrier.clock.now()))
        if self.opted_out or self.request.conversation is not None:
            # opted out: the confirmation plays, then the call ends, nothing else; a
            # conversation's robot decides itself what a machine gets
            return
        if not self.request.voicemail_drop:
            if result.verdict is Verdict.MACHINE:
                self._hang_up("answering machine")
            return
        if result.verdict is Verdict.MACHINE:
            self._after(GREETING_WAIT_S, self._leave_message)
        else:
            self._timers.append(asyncio.ensure_future(self._play()))

    def _leave_message(self) -> None:
        """The machine's greeting is over (its beep): the message, once, then the end."""
        if self._message_left or self._session.over or self.opted_out:
            return
        self._message_left = True
        self._timers.append(asyncio.ensure_future(self._play(voicemail=True)))

    async def _play(self, *, voicemail: bool = False) -> None:
        request = self.request
        if request.delay_play_s > 0 and not voicemail:
            await self._carrier.clock.sleep(request.delay_play_s)
        media = self._media
        if media is None or self._session.over or self.stats.codec is None or self.opted_out:
            return
        try:
            audio = await self._carrier.prompts.g711(request.prompt.ref, self.stats.codec)
        except PromptNotFound as err:
            log.warning("call %s: %s", self.call_id, err)
            self._hang_up("prompt missing")
            return
        if self.opted_out:  # the key came while the audio was fetched
            return
        await media.play(audio, 1 if voicemail else max(1, request.loop_count))
        if (
            self._session.over
            or self._transfer_task is not None
            or media.failure is not None
            or self.opted_out
        ):
            return
        self._put(PromptDone(self._carrier.clock.now()))
        if voicemail:
            self._hang_up("voicemail left")
            return
        if request.transfer is not None and request.transfer.mode == 1:
            self._start_transfer()
            return
        if request.delay_hangup_s > 0:
            await self._carrier.clock.sleep(request.delay_hangup_s)
        self._hang_up("normal clearing")

    # -- conversation calls: saying and hearing -----------------------------------------------
    async def _say(self, saying: _Saying) -> None:
        media, codec = self._media, self.stats.codec
        if media is None or codec is None:
            self._end_prompt(saying)
            return
        try:
            audio = await self._carrier.prompts.g711(saying.prompt.ref, codec)
        except Exception as err:  # the robot hears of it as a prompt over (and goes on)
            log.warning("call %s: cannot say %s: %s", self.call_id, saying.prompt.ref, err)
            self._end_prompt(saying)
            return
        if saying.over or self._session.over:  # replaced or hushed while its audio came
            return
        played = media.play(audio, 1)
        saying.playing = True
        if self._ear is not None:
            self._ear.prompt(saying.interruptible)
        await played
        self._end_prompt(saying)  # played out (or already ended: stopped, replaced)

    def _end_prompt(self, saying: _Saying | None = None) -> None:
        """The one PromptDone of `saying` (the prompt said last by default), if not out yet."""
        saying = saying or self._saying
        if saying is None or saying.over:
            return
        saying.over = True
        if saying is self._saying:
            self._saying = None
            if self._ear is not None:
                self._ear.prompt_over()
        self._put(PromptDone(self._carrier.clock.now()))

    def _hear(self, conversation: Conversation) -> None:
        """The callee's audio from the answer on, through an Ear (turns and barge-in)."""
        media, codec = self._media, self.stats.codec
        if media is None or codec is None:
            return
        barge_in = self._barge_in

        def make_ear() -> Ear:
            from voxcast.audio.hearing.ear import Ear  # numpy and the VAD: robots' calls only
            from voxcast.audio.hearing.machine import spare_detector

            return Ear(
                codec,
                vad=spare_detector(),
                end_silence_ms=conversation.end_of_turn_ms,
                barge_in_ms=conversation.barge_in_ms,
                on_barge_in=barge_in,
            )

        media.hear(make_ear, self._heard_callee, self._ear_ready)

    def _ear_ready(self, ear: Ear) -> None:
        self._ear = ear
        saying = self._saying
        if saying is not None and saying.playing:
            ear.prompt(saying.interruptible)

    def _barge_in(self) -> None:
        """Inside the arrival of the packet whose speech decided it: the prompt stops now."""
        if self._handed_over is not None:
            return  # what plays now is the hold tone, or the agent
        saying = self._saying
        if self._media is not None:
            self._media.stop_playing()
        if saying is None or self._session.over:
            return
        self._put(BargedIn(self._carrier.clock.now()))
        self._end_prompt(saying)

    def _heard_callee(self, events: list[HearingEvent], heard_ms: int) -> None:
        """The Ear's events of one packet, timed by the audio clock: `heard_ms` of audio
        heard is now, so an event `x` ms earlier in the audio happened `x` ms ago."""
        from voxcast.audio.hearing.turns import SpeechStarted, TurnEnded

        now = self._carrier.clock.now()

        def at(ms: int) -> datetime:
            return now - timedelta(milliseconds=max(0, heard_ms - ms))

        if self._handed_over is not None:
            return  # the robot handed the callee to agents: it hears them no more
        for event in events:
            if isinstance(event, SpeechStarted):
                self._put(CalleeSpeaking(at(event.at_ms)))
            elif isinstance(event, TurnEnded):
                self._put(CalleeSaid(event.pcm, at(event.started_ms), now))
            # BargedIn went out from `_barge_in` already; the Ear has no AMD here

    def _after(self, seconds: float, action: Callable[[], None]) -> asyncio.Future[None]:
        async def later() -> None:
            await self._carrier.clock.sleep(seconds)
            action()

        timer = asyncio.ensure_future(later())
        self._timers.append(timer)
        return timer

    def _talk_limit(self) -> None:
        self._hang_up("maximum call duration reached")

    def _hang_up(self, reason: str, by: HangupBy = HangupBy.US, code: int | None = None) -> None:
        """Ask the call's user agent to end it (CANCEL or BYE) with this cause; the first
        cause given is the one the call ends with."""
        call = self._call
        if call is None or self._session.over:
            return
        endpoint = self._carrier.endpoint_if_open
        if endpoint is not None:
            endpoint.act(call.call_id, lambda now, _: call.hangup(now, reason, by, code))

    def _on_media_lost(self, reason: str) -> None:
        """The call's media worker died: the callee hears nothing more, so the call ends
        now, its record saying why, rather than running on in silence."""
        log.warning("call %s: %s", self.call_id, reason)
        self._hang_up(f"media lost: {reason}", HangupBy.NETWORK)

    def _on_dtmf(self, key: str) -> None:
        if self.request.collect_dtmf and not self._session.over:
            self._put(Dtmf(key, self._carrier.clock.now()))
        opt_out = self.request.opt_out
        if opt_out is not None and key == opt_out.key and not self._bridged:
            self._opt_out()
            return
        if self.opted_out:
            return
        transfer = self.request.transfer
        if transfer is not None and transfer.mode == 2 and key == transfer.key:
            elapsed = self._carrier.clock.now() - (self._answered_at or self._carrier.clock.now())
            self._after(max(0.0, transfer.delay_s - elapsed.total_seconds()), self._start_transfer)

    # -- the callee's opt-out key ------------------------------------------------------------
    def _fetch_confirmation(self) -> None:
        opt_out, codec = self.request.opt_out, self.stats.codec
        if opt_out is None or codec is None or self._confirmation is not None:
            return
        fetch = asyncio.ensure_future(self._carrier.prompts.g711(opt_out.confirmation.ref, codec))
        # a confirmation that cannot be fetched is told when the key comes (or never)
        fetch.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._confirmation = fetch

    def _opt_out(self) -> None:
        """The key: whatever plays (the prompt, the hold tone) stops now, a transfer is
        called off (an agent's phone ringing is hung up), the confirmation plays once and
        the call ends (`ports.OptOut`)."""
        if self.opted_out or self._answered_at is None or self._session.over:
            return
        self.opted_out = True
        if self._media is not None:
            self._media.stop_playing()
        self._end_prompt()  # a conversation's prompt, cut short by the key
        if self._transfer_task is not None:
            self._callee_gone.set()  # the search stops: the callee no longer waits
        self._timers.append(asyncio.ensure_future(self._confirm()))

    async def _confirm(self) -> None:
        media = self._media
        self._fetch_confirmation()
        fetch = self._confirmation
        if media is not None and fetch is not None:
            try:
                audio = await asyncio.shield(fetch)
            except Exception as err:
                # the callee asked to be left alone: the call ends even without the words
                log.warning("call %s: no opt-out confirmation: %s", self.call_id, err)
            else:
                if not self._session.over:
                    await media.play(audio, 1)
        self._hang_up(OPTED_OUT)

    # -- click-to-call: bridged to the caller's phone --------------------------------------------
    async def _watch_phone(self, phone: SipPhone) -> None:
        """Ringback to the phone until the callee's media is up; the phone hanging up ends
        the call (cancelling a callee still ringing)."""
        leg = phone.leg
        if leg.codec is not None and leg.media.relay_to is None:
            tone = await self._carrier.prompts.g711(RINGBACK, leg.codec)
            if leg.media.relay_to is None and not self._session.over:
                leg.media.play(tone, HOLD_LOOPS)
        await leg.ended.wait()
        self._hang_up("phone hung up", by=HangupBy.AGENT)

    # -- transfer to an agent ----------------------------------------------------------------
    def _start_transfer(self) -> None:
        transfer = self._handed_over or self.request.transfer
        if (
            transfer is None
            or self._transfer_task is not None
            or not self._session.in_dialog
            or self.opted_out
        ):
            return
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
        if self._agent is None and not self._callee_gone.is_set() and not self.opted_out:
            media.play(tone, HOLD_LOOPS)

    async def _run_transfer(self, transfer: Transfer) -> None:
        clock = self._carrier.clock
        self._callee_info = transfer.callee_info
        search = Search(transfer, clock, self._ring_agent, self._callee_gone)
        async for event in search.run():
            if isinstance(event, AgentAnswered):
                self._bridged = True
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
                    self._hang_up("agent hung up", by=HangupBy.AGENT)
                else:
                    agent.hangup()
                    self._hang_up("maximum call duration reached")
            else:
                agent.hangup()
        finally:
            await transfer.desk.release(search.answered, talked=True)

    async def _ring_agent(self, agent: ReservedAgent) -> bool:
        if self._media is None or self.stats.codec is None:
            return False
        carrier = self._carrier
        endpoint = await carrier.agent_endpoint()
        # bridged packet for packet with the callee's stream, so where it is: a conversation's
        # stays in this process (`open_local_stream`), a worker's stream relays only in workers
        if self.request.conversation is not None:
            media = await carrier.media.open_local_stream()
        else:
            media = await carrier.media.open_stream()
        leg: AgentLeg | BrowserLeg
        if is_browser(agent.target) and carrier.sessions is not None:
            leg = BrowserLeg(
                sessions=carrier.sessions,
                clock=carrier.clock,
                media=media,
                callee_media=self._media,
                agent=agent,
                codec=self.stats.codec,
                callee=self.request.callee,
                callee_info=self._callee_info,
                local_host=carrier.media.host,
            )
        else:
            leg = AgentLeg(
                endpoint=endpoint,
                media=media,
                callee_media=self._media,
                agent=agent,
                codecs=(self.stats.codec,),
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
        if not self._session.over:
            self._queue.put_nowait(event)

    def _end_unplaced(self, code: int, by: HangupBy, reason: str) -> None:
        """The call ends before any INVITE went out (nothing to resolve, no sockets, hung
        up before it started)."""
        if Action.REPORT_END in self._session.fire(Event.FAILED, Ended(code, by, reason)):
            self._emit_end(code, by, reason)

    def _emit_end(self, code: int, by: HangupBy, reason: str, at: datetime | None = None) -> None:
        """The port's HungUp: once, as the session reports its end."""
        if self._media is not None:
            self._media.stop_playing()
        saying, self._saying = self._saying, None
        if saying is not None and not saying.over:  # a prompt said gets its PromptDone
            saying.over = True
            self._queue.put_nowait(PromptDone(at or self._carrier.clock.now()))
        self._queue.put_nowait(HungUp(at or self._carrier.clock.now(), by, code, reason))

    async def _save_recording(self, at: datetime) -> Recorded | None:
        """The call's two files, written as it went (from the answer): both sides in stereo
        and the callee's alone; None when it was never answered (nothing recorded)."""
        media = self._media
        if media is None:
            return None
        full, customer = await media.finish_recording()
        if full is None and customer is None:
            return None
        self.stats.recording_full, self.stats.recording = full, customer
        return Recorded(full, customer, at)

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
            await self._agent.media.sync()
            if self._media is not None:
                await self._media.sync()
            self.stats.to_agent = self._agent.media.relayed
            self.stats.to_callee = self._media.relayed if self._media else 0
            self._agent.close()
        if self._phone is not None:
            self._phone.leg.hangup()
            await self._phone.leg.media.sync()
            if self._media is not None:
                await self._media.sync()
            self.stats.to_agent = self._phone.leg.media.relayed
            self.stats.to_callee = self._media.relayed if self._media else 0
        media = self._media
        if media is not None:
            await media.sync()
            reception = media.reception
            self.stats.rtp_sent = media.sent
            self.stats.srtp_failed = media.srtp_failed
            self.stats.rtp_dropped = media.dropped
            if media.dropped:  # the pacer warned once per stall; this names the calls hit
                log.info(
                    "call %s: %d RTP frames dropped (the event loop stalled)",
                    self.call_id,
                    media.dropped,
                )
            if reception is not None:
                self.stats.rtp_received = reception.received
                self.stats.rtp_strangers = reception.strangers
            if self.request.record and self.stats.recording is None:
                # the consumer stopped reading before the end: the files are still written
                full, customer = await media.finish_recording()
                self.stats.recording_full, self.stats.recording = full, customer
            media.close()
        if self._confirmation is not None:
            self._confirmation.cancel()
        if not self._session.over:  # the consumer stopped reading early: end the call for it
            self._hang_up("hung up by us")


class SipPhone:
    """An agent's softphone rung for a click-to-call (`ports.PhoneLeg`)."""

    def __init__(self, leg: AgentLeg) -> None:
        self.leg = leg
        self._ringing = asyncio.ensure_future(leg.ring())

    async def answered(self) -> bool:
        return await asyncio.shield(self._ringing)

    @property
    def sip_code(self) -> int:
        # an agent with no usable contact is never rung: as unreachable as a silent phone
        return self.leg.sip_code or 480

    def close(self) -> None:
        self.leg.hangup()
        self._ringing.cancel()
        self.leg.close()


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
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.trunk = trunk
        #: the database, where browser agents are offered their calls (None: not rung)
        self.sessions = sessions
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

    async def ring_phone(self, phone: ReservedAgent, caller: str) -> SipPhone:
        """Ring an agent's registered phone from the agents' endpoint, offering the trunk's
        codecs (the callee is offered the one the phone picks)."""
        endpoint = await self.agent_endpoint()
        leg = AgentLeg(
            endpoint=endpoint,
            media=await self.media.open_stream(),
            callee_media=None,
            agent=phone,
            codecs=self.trunk.codecs,
            caller=caller,
            local_host=self.public_host or endpoint.address[0],
        )
        return SipPhone(leg)

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
