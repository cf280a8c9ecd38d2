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
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from sqlalchemy import select

from tests.conftest import Tenant
from tests.contract.test_callcenter_agents import new_group, new_seats
from tests.integration.dialing import insert_task, wait_status
from tests.integration.test_sip_calls import sip_rig
from tests.integration.test_sip_transfer import done
from tests.sipp.runner import Sipp
from tests.webrtc_audio import loudest_stray, matching_windows, noise
from voxcast.audio.g711 import ulaw_decode, ulaw_encode
from voxcast.config import Settings
from voxcast.dialer.desk import DbAgentDesk
from voxcast.domain.enums import TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import agents, browser_agents
from voxcast.services.agents import AgentStatus
from voxcast.services.browser_agents import CallState
from voxcast.storage.models import Agent, CcRecord
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


async def heard_for(heard: list[npt.NDArray[np.int16]], seconds: float) -> None:
    """Until the page has heard `seconds` of audio (8 kHz), however long a stall of ours makes
    that take (at most 10 s)."""
    for _ in range(100):
        if sum(len(frame) for frame in heard) >= seconds * 8000:
            return
        await asyncio.sleep(0.1)


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
        windows = matching_windows(from_callee, got_browser)
        assert windows >= 4, f"the browser heard the callee in {windows} of 5 windows"
        wrong = loudest_stray(from_browser, got_browser)
        assert wrong < 0.3, f"the browser heard itself at r={wrong:.3f}"
        windows = matching_windows(from_browser, got_callee)
        assert windows >= 4, f"the callee heard the browser in {windows} of 5 windows"
        wrong = loudest_stray(from_callee, got_callee)
        assert wrong < 0.3, f"the callee heard itself at r={wrong:.3f}"
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


async def test_a_tasks_callee_is_transferred_to_a_browser_agent_through_the_sip_carrier(
    settings: Settings,
) -> None:
    """The dialer's own path: a group call's callee (SIPp, which echoes what it hears) is
    handed to the group's browser agent by the SIP carrier, offered with its row (text1...),
    answered; the browser hears its own noise back through the callee, and its Hang up ends
    the call as the agent's."""
    async with sip_rig(settings) as rig:
        callee = await Sipp.start("answer_hold.xml")
        await rig.route_to(callee)
        rt, account_id, app_id = rig.rt, rig.creds.account_id, rig.creds.app_id
        now = rt.clock.now()
        async with rt.sessions.begin() as session:
            group = await agents.add_group(session, account_id, app_id, "web-agents", now)
            [seat] = await agents.add_agents(
                session, rt.secrets, account_id, group.id, 1, None, None, now
            )
        phones = BrowserPhones("127.0.0.1", ice_hosts=["127.0.0.1"])
        mic = noise(3, 2.0)
        pc, heard = await browser(phones, seat.key_id, NoiseTrack(mic))
        try:
            for _ in range(100):
                if pc.connectionState == "connected":
                    break
                await asyncio.sleep(0.05)
            media = phones.media_of(seat.key_id)
            assert media is not None
            async with rt.sessions.begin() as session:
                await browser_agents.register(session, seat.name, media, rt.clock.now())
            params = {"toSeat": 1, "sipGroupId": group.id, "toSeatType": 1}
            task_id = await insert_task(
                rt, account_id, app_id, ["8613000000000"], text="Hi.", params=params,
                infos=[{"text1": "Ann Lee", "text2": "order 17"}],
            )  # fmt: skip
            offered = None
            for _ in range(300):  # the call is placed, the message played, then the transfer
                async with rt.sessions() as session:
                    offered = await browser_agents.offered(session, seat.key_id)
                if offered is not None:
                    break
                await asyncio.sleep(0.1)
            assert offered is not None and offered.callee == "8613000000000"
            assert offered.info == {"text1": "Ann Lee", "text2": "order 17"}
            async with rt.sessions.begin() as session:
                assert await browser_agents.answer(session, seat.key_id, offered.call_id)
            assert phones.follow(seat.key_id, offered.leg, offered.codec)
            await asyncio.sleep(1.0)
            heard.clear()
            await heard_for(heard, 2.0)
            got = np.concatenate(heard)[-8000:] if heard else np.zeros(0, np.int16)
            async with rt.sessions.begin() as session:
                assert await browser_agents.hang_up(session, seat.key_id, offered.call_id)
            await wait_status(rt, task_id, TaskStatus.FINISHED, timeout=30)
        finally:
            await pc.close()
            await phones.close()
        async with rt.sessions() as session:
            rec = (
                await session.execute(select(CcRecord).where(CcRecord.task_id == task_id))
            ).scalar_one()
        [far] = await done(callee)
    assert far.ok, far
    assert len(got) == 8000
    windows = matching_windows(mic, got)
    assert windows >= 4, (
        f"the browser heard itself back through the callee in {windows} of 5 windows"
    )
    assert rec.agent_name == seat.name and rec.hanging_direction == 1  # the agent hung up


async def test_an_offer_without_pcmu_is_refused_as_a_value_error() -> None:
    phones = BrowserPhones("127.0.0.1", ice_hosts=["127.0.0.1"])
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("audio")
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
        )
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(ValueError, match="the offer cannot be taken"):
            await phones.connect(1, pc.localDescription.sdp)
        assert phones.media_of(1) is None
    finally:
        await pc.close()
        await phones.close()
