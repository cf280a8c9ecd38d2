"""The browser agent's media path (issue 16): an aiortc peer stands for the browser, a real RTP
socket for the callee; a call offered through the agent's row is answered, and what each side
received is matched against what the other sent (seeded noise, by correlation)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import secrets
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from tests.conftest import Tenant
from tests.contract.test_callcenter_agents import new_group, new_seats
from tests.webrtc_audio import best_match, noise
from voxcast.audio.g711 import ulaw_decode, ulaw_encode
from voxcast.dialer.desk import DbAgentDesk
from voxcast.runtime import Runtime
from voxcast.services import browser_agents
from voxcast.services.agents import AgentStatus
from voxcast.services.browser_agents import CallState
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter.webrtc import BrowserLeg, BrowserPhones
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.packet import Sequencer, parse

pytestmark = pytest.mark.timeout(60)

TALK_S = 3.0


class NoiseTrack(MediaStreamTrack):
    """The browser's microphone: `samples` looped, 20 ms frames at 8 kHz, paced."""

    kind = "audio"

    def __init__(self, samples: npt.NDArray[np.int16]) -> None:
        super().__init__()
        self.samples = samples
        self.pts = 0
        self.start: float | None = None

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        else:
            self.pts += 160
            await asyncio.sleep(max(0.0, self.start + self.pts / 8000 - loop.time()))
        at = self.pts % len(self.samples)
        chunk = np.resize(np.roll(self.samples, -at), 160)
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, 8000)
        return frame


class Callee(asyncio.DatagramProtocol):
    """The callee's phone: sends `samples` as µ-law RTP to `remote`, keeps what it hears."""

    def __init__(self, samples: npt.NDArray[np.int16]) -> None:
        self.samples = samples
        self.heard: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        packet = parse(data)
        if packet.payload_type == 0:
            self.heard.append(ulaw_decode(packet.payload))

    async def talk(self, remote: tuple[str, int], seconds: float) -> None:
        assert self.transport is not None
        sequencer = Sequencer(secrets.randbits(32), 1, 1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(int(seconds / 0.02)):
            at = (i * 160) % len(self.samples)
            chunk = np.resize(np.roll(self.samples, -at), 160)
            payload = ulaw_encode(chunk.astype("<i2").tobytes())
            self.transport.sendto(sequencer.next(0, payload).pack(), remote)
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))

    def audio(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(b"".join(self.heard), dtype="<i2")


async def agent_of(tenant: Tenant) -> tuple[int, int, str]:
    group_id = await new_group(tenant)
    [seat] = await new_seats(tenant, group_id, size=1)
    return group_id, int(seat["keyId"]), str(seat["name"])


async def browser(phones: BrowserPhones, key_id: int, mic: NoiseTrack) -> tuple[Any, list[Any]]:
    """An aiortc peer as the page: offer (candidates gathered), our answer, and what it hears."""
    pc = RTCPeerConnection()
    heard: list[npt.NDArray[np.int16]] = []
    readers: list[asyncio.Future[None]] = []

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        async def read() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    assert frame.sample_rate == 8000  # type: ignore[union-attr]
                    heard.append(frame.to_ndarray().reshape(-1))  # type: ignore[union-attr]

        readers.append(asyncio.ensure_future(read()))

    pc.addTrack(mic)
    await pc.setLocalDescription(await pc.createOffer())
    answer, _ = await phones.connect(key_id, pc.localDescription.sdp)
    assert "PCMU/8000" in answer and "opus" not in answer.lower()
    assert "127.0.0.1" in answer
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, heard


async def test_a_browser_agent_answers_and_audio_flows_both_ways(
    tenant: Tenant, rt: Runtime
) -> None:
    group_id, key_id, name = await agent_of(tenant)
    phones = BrowserPhones("127.0.0.1", ice_hosts=["127.0.0.1"])
    engine = MediaEngine("127.0.0.1")
    from_browser, from_callee = noise(1, 2.0), noise(2, 2.0)
    loop = asyncio.get_running_loop()
    callee_transport, callee = await loop.create_datagram_endpoint(
        lambda: Callee(from_callee), local_addr=("127.0.0.1", 0)
    )
    callee_media = await engine.open_stream()
    pc, heard = await browser(phones, key_id, NoiseTrack(from_browser))
    try:
        for _ in range(100):  # ICE and DTLS over loopback
            if pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        assert pc.connectionState == "connected"
        media = phones.pages[key_id]
        async with rt.sessions.begin() as session:
            await browser_agents.register(session, name, (media.host, media.port), rt.clock.now())
        # the callee's call is up: its RTP flows between its phone and our stream
        callee_media.start(callee_transport.get_extra_info("sockname")[:2], 0, None)
        desk = DbAgentDesk(rt, virtual=False)
        agent = await desk.reserve(group_id, frozenset())
        assert agent is not None and agent.target == f"webrtc:127.0.0.1:{media.port}"
        leg = BrowserLeg(
            sessions=rt.sessions,
            clock=rt.clock,
            media=await engine.open_stream(),
            callee_media=callee_media,
            agent=agent,
            codec=0,
            callee="+15550100",
            callee_info={"text1": "Ann Lee", "text2": "order 17"},
            local_host="127.0.0.1",
        )
        ringing = asyncio.ensure_future(leg.ring())
        offered = None
        for _ in range(50):
            async with rt.sessions() as session:
                offered = await browser_agents.offered(session, key_id)
            if offered is not None:
                break
            await asyncio.sleep(0.05)
        assert offered is not None and offered.state == CallState.RINGING
        assert (offered.callee, offered.info) == (
            "+15550100",
            {"text1": "Ann Lee", "text2": "order 17"},
        )
        # the page's Answer
        async with rt.sessions.begin() as session:
            assert await browser_agents.answer(session, key_id, offered.call_id)
        assert phones.follow(key_id, offered.leg, offered.codec)
        assert await asyncio.wait_for(ringing, 5)
        async with rt.sessions() as session:
            row = await session.get(Agent, key_id)
            assert row is not None and row.status == AgentStatus.BUSY
        heard.clear()
        await callee.talk(("127.0.0.1", callee_media.port), TALK_S)
        # what the browser heard is the callee's noise, what the callee heard the browser's
        got_browser = np.concatenate(heard)[-8000:] if heard else np.zeros(0, np.int16)
        got_callee = callee.audio()[-8000:]
        assert len(got_browser) == 8000 and len(got_callee) == 8000
        match, _ = best_match(from_callee, got_browser)
        assert match > 0.95, f"the browser heard the callee at r={match:.3f}"
        wrong, _ = best_match(from_browser, got_browser)
        assert wrong < 0.2, f"the browser heard itself at r={wrong:.3f}"
        match, _ = best_match(from_browser, got_callee)
        assert match > 0.95, f"the callee heard the browser at r={match:.3f}"
        wrong, _ = best_match(from_callee, got_callee)
        assert wrong < 0.2, f"the callee heard itself at r={wrong:.3f}"
        # the page's Hang up ends the agent's leg
        async with rt.sessions.begin() as session:
            assert await browser_agents.hang_up(session, key_id, offered.call_id)
        await asyncio.wait_for(leg.ended.wait(), 2)
        leg.hangup()
        leg.close()
        await desk.release(agent, talked=True)
        await asyncio.sleep(0.1)
        async with rt.sessions() as session:
            assert await browser_agents.offered(session, key_id) is None
            row = await session.get(Agent, key_id)
            assert row is not None and row.status == AgentStatus.IDLE
    finally:
        await pc.close()
        await phones.close()
        callee_media.close()
        callee_transport.close()


async def test_an_unanswered_offer_is_withdrawn_after_the_ring_time(
    tenant: Tenant, rt: Runtime
) -> None:
    group_id, key_id, name = await agent_of(tenant)
    async with rt.sessions.begin() as session:
        await browser_agents.register(session, name, ("127.0.0.1", 9), rt.clock.now())
    agent = await DbAgentDesk(rt, virtual=False).reserve(group_id, frozenset())
    assert agent is not None
    engine = MediaEngine("127.0.0.1")
    leg = BrowserLeg(
        sessions=rt.sessions,
        clock=rt.clock,
        media=await engine.open_stream(),
        callee_media=None,
        agent=agent.__class__(**{**agent.__dict__, "ring_timeout_s": 0.5}),
        codec=0,
        callee="+15550100",
        callee_info=None,
        local_host="0.0.0.0",
    )
    try:
        assert not await asyncio.wait_for(leg.ring(), 5)
        async with rt.sessions() as session:
            assert await browser_agents.offered(session, key_id) is None
    finally:
        leg.close()


async def test_break_is_taken_from_idle_only_and_stops_reservations(
    tenant: Tenant, rt: Runtime
) -> None:
    group_id, key_id, name = await agent_of(tenant)
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        assert not await browser_agents.set_break(session, key_id, True, now)  # offline
        await browser_agents.register(session, name, ("127.0.0.1", 9), now)
        assert await browser_agents.set_break(session, key_id, True, now)
    desk = DbAgentDesk(rt, virtual=False)
    assert await desk.reserve(group_id, frozenset()) is None
    async with rt.sessions.begin() as session:
        assert await browser_agents.set_break(session, key_id, False, now)
    agent = await desk.reserve(group_id, frozenset())
    assert agent is not None and agent.key_id == key_id
