"""Browser agents over WebRTC (issue 16): voxcast terminates the agent page's peer connection
itself (aiortc: ICE, DTLS-SRTP, PCMU) and turns it into a plain RTP endpoint, which the call's
agent leg (`BrowserLeg`) bridges to the callee's RTP exactly as `AgentLeg` bridges a softphone.

The page and the worker ringing the agent may be two processes (`voxcast serve`): the page's
media (`BrowserPhones`) lives with the page, the offer and the answer pass through the agent's
row (`services.browser_agents`), and the media between them is RTP on the agent's contact."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioResampler
from av.packet import Packet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.audio.g711 import alaw_decode, alaw_encode, ulaw_encode
from voxcast.ports import Clock, ReservedAgent
from voxcast.services import browser_agents
from voxcast.services.browser_agents import CallState, OfferedCall
from voxcast.telephony.rtp.media import MediaStream
from voxcast.telephony.rtp.packet import RtpError, Sequencer, parse

log = logging.getLogger("voxcast.webrtc")

PCMU, PCMA = 0, 8
SAMPLES = 160  # 20 ms at 8 kHz
TIME_BASE = fractions.Fraction(1, 8000)
SILENCE = b"\xff" * SAMPLES  # µ-law zero
#: callee audio waiting for the browser beyond this (0.5 s) is dropped, oldest first
QUEUE_FRAMES = 25
#: how often the ringing leg looks whether the agent answered (or hung up)
POLL_S = 0.2


def only_host_addresses(addresses: Sequence[str]) -> None:
    """Gather ICE host candidates on `addresses` only. aioice otherwise takes every interface
    but loopback; a page on this machine (and the tests) needs 127.0.0.1, a deployment the
    address browsers reach (`VOXCAST_WEBRTC_HOSTS`)."""
    chosen = list(addresses)

    def pick(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return list(chosen)

    aioice.ice.get_host_addresses = pick


class _ToBrowser(MediaStreamTrack):
    """What the browser hears: the callee's G.711 frames as they came (µ-law passes without
    transcoding), paced at 20 ms, silence when none is waiting."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.frames: collections.deque[bytes] = collections.deque(maxlen=QUEUE_FRAMES)
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += SAMPLES
            wait = self._start + self._pts / 8000 - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        packet = Packet(self.frames.popleft() if self.frames else SILENCE)
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        return packet


class BrowserMedia(asyncio.DatagramProtocol):
    """One open agent page: its peer connection, and the plain RTP socket (`host`, `port`)
    that stands for it towards the agent leg."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.pc = RTCPeerConnection()
        self.to_browser = _ToBrowser()
        self._transport: asyncio.DatagramTransport | None = None
        #: where the browser's audio goes (the agent leg's RTP), from the agent's answer on
        self.leg: tuple[str, int] | None = None
        self.codec = PCMU
        self._sequencer = Sequencer(
            secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        )
        self._pcm = bytearray()
        self._reader: asyncio.Task[None] | None = None
        self.from_leg = 0  # RTP packets the leg sent us (callee audio)
        self.to_leg = 0  # ...and we sent it (the browser's audio)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, 0))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.port = int(transport.get_extra_info("sockname")[1])

    async def accept(self, offer_sdp: str) -> str:
        """The browser's offer (its candidates gathered: no trickle) → our answer, once our
        own candidates are gathered, with PCMU as the only audio codec."""
        pc = self.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._reader is None:
                self._reader = asyncio.ensure_future(self._read(track))

        # the codecs are chosen as the offer is read: the transceiver that takes the offer's
        # audio must prefer PCMU before
        transceiver = pc.addTransceiver(self.to_browser, direction="sendrecv")
        transceiver.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("audio").codecs
                if codec.mimeType.lower() == "audio/pcmu"
            ]
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _read(self, track: MediaStreamTrack) -> None:
        """The browser's audio, as 8 kHz 20 ms G.711 RTP in the leg's codec, once answered."""
        resampler = AudioResampler(format="s16", layout="mono", rate=8000)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.leg is None or self._transport is None:
                self._pcm.clear()
                continue
            for part in resampler.resample(frame):  # type: ignore[arg-type]
                self._pcm += bytes(part.planes[0])[: part.samples * 2]
            while len(self._pcm) >= 2 * SAMPLES:
                pcm = bytes(self._pcm[: 2 * SAMPLES])
                del self._pcm[: 2 * SAMPLES]
                payload = ulaw_encode(pcm) if self.codec == PCMU else alaw_encode(pcm)
                packet = self._sequencer.next(self.codec, payload)
                self._transport.sendto(packet.pack(), self.leg)
                self.to_leg += 1

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.leg is None:
            return
        try:
            packet = parse(data)
        except RtpError:
            return
        if packet.payload_type == PCMU:
            payload = packet.payload
        elif packet.payload_type == PCMA:
            payload = ulaw_encode(alaw_decode(packet.payload))
        else:
            return  # telephone-event and the like: nothing the browser plays
        self.from_leg += 1
        self.to_browser.frames.append(payload)

    def follow(self, leg: tuple[str, int] | None, codec: int) -> None:
        """Bridge the browser to the agent leg at `leg` (None: the call is over)."""
        if leg is None:
            self.leg = None
            self.to_browser.frames.clear()
            return
        self.codec = codec if codec in (PCMU, PCMA) else PCMU
        self.leg = leg

    async def close(self) -> None:
        self.leg = None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        await self.pc.close()


class BrowserPhones:
    """The open agent pages of this process, by agent id; a page opened again replaces the
    one before (a reload)."""

    def __init__(self, host: str = "127.0.0.1", ice_hosts: Sequence[str] | None = None) -> None:
        self.host = host
        if ice_hosts:
            only_host_addresses(ice_hosts)
        self.pages: dict[int, BrowserMedia] = {}

    async def connect(self, key_id: int, offer_sdp: str) -> tuple[str, tuple[str, int]]:
        """Our SDP answer, and the plain RTP address that stands for the page; ValueError for
        an offer that cannot be taken (no PCMU, not SDP)."""
        await self.disconnect(key_id)
        media = BrowserMedia(self.host)
        await media.open()
        try:
            answer = await media.accept(offer_sdp)
        except (ValueError, InvalidAccessError, InvalidStateError, OperationError) as err:
            await media.close()
            raise ValueError(f"the offer cannot be taken: {err}") from err
        except BaseException:
            await media.close()
            raise
        self.pages[key_id] = media
        return answer, (media.host, media.port)

    def media_of(self, key_id: int) -> tuple[str, int] | None:
        media = self.pages.get(key_id)
        return (media.host, media.port) if media is not None else None

    def follow(self, key_id: int, leg: tuple[str, int] | None, codec: int) -> bool:
        media = self.pages.get(key_id)
        if media is None:
            return False
        media.follow(leg, codec)
        return True

    async def disconnect(self, key_id: int) -> None:
        media = self.pages.pop(key_id, None)
        if media is not None:
            await media.close()

    async def close(self) -> None:
        for key_id in list(self.pages):
            await self.disconnect(key_id)


class BrowserLeg:
    """The agent's side of a transfer to a browser agent: the call is offered through the
    agent's row (the page shows it), its answer read back from there, and the page's RTP then
    bridged to the callee's as a softphone's is (`AgentLeg`'s interface)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        media: MediaStream,
        callee_media: MediaStream | None,
        agent: ReservedAgent,
        codec: int,
        callee: str,
        callee_info: dict[str, str] | None,
        local_host: str,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.media = media
        self._callee_media = callee_media
        self.agent = agent
        self.codec: int | None = codec
        self.sip_code = 0
        self._callee = callee
        self._info = dict(callee_info or {})
        # the page's media listens on this machine's loopback or a real address
        self._local_host = local_host if local_host not in ("", "0.0.0.0") else "127.0.0.1"
        self.call_id = secrets.token_hex(8)
        self.ended = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._offered = False

    async def ring(self) -> bool:
        target = self.agent.target
        if not browser_agents.is_browser(target) or self.codec is None:
            return False
        assert target is not None
        call = OfferedCall(
            call_id=self.call_id,
            state=CallState.RINGING,
            callee=self._callee,
            info=self._info,
            codec=self.codec,
            leg=(self._local_host, self.media.port),
            offered_at=self._clock.now().isoformat(),
        )
        async with self._sessions.begin() as session:
            await browser_agents.offer(session, self.agent.key_id, call)
        self._offered = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.agent.ring_timeout_s
        while loop.time() < deadline:
            state = await self._state()
            if state == CallState.ANSWERED:
                self.media.start(browser_agents.media_address(target), self.codec, None)
                if self._callee_media is not None:
                    self.bridge(self._callee_media)
                self._spawn(self._watch())
                return True
            if state != CallState.RINGING:  # refused, or the page replaced the offer
                break
            await asyncio.sleep(POLL_S)
        self.sip_code = 480
        await self._withdraw()
        return False

    async def _state(self) -> int:
        async with self._sessions() as session:
            call = await browser_agents.offered(session, self.agent.key_id)
        if call is None or call.call_id != self.call_id:
            return CallState.NONE
        return call.state

    async def _watch(self) -> None:
        """The agent hung up (the page's button) or the page's offer is gone: the leg ends."""
        while not self.ended.is_set():
            try:
                state = await self._state()
            except Exception:
                log.exception("reading browser agent %s's call", self.agent.name)
                state = CallState.ANSWERED  # a database blip must not cut the conversation
            if state != CallState.ANSWERED:
                self.ended.set()
                return
            await asyncio.sleep(POLL_S)

    def bridge(self, callee_media: MediaStream) -> None:
        """Whatever each side says reaches the other (what we played to either stops)."""
        self._callee_media = callee_media
        self.media.relay_to = callee_media
        callee_media.relay_to = self.media
        callee_media.stop_playing()
        self.media.stop_playing()

    def hangup(self) -> None:
        """The call is over on our side: the page no longer shows it."""
        if self._offered:
            self._offered = False
            self._spawn(self._withdraw())

    async def _withdraw(self) -> None:
        self._offered = False
        try:
            async with self._sessions.begin() as session:
                await browser_agents.withdraw(session, self.agent.key_id, self.call_id)
        except Exception:
            log.exception("withdrawing the call offered to browser agent %s", self.agent.name)

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        self.ended.set()
        if self._callee_media is not None:
            self._callee_media.relay_to = None
        self.media.close()
