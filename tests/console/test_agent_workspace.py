"""The agent workspace end to end (issue 16): `voxcast serve` with its registrar, Chromium with a
fake microphone playing a WAV made here, opened with a createSdkAuthentication credential; a
caller (a SIP UA of this test, with its own RTP) dials the group's number and is transferred
to the browser agent, who answers and hangs up with the page's buttons. Audio both ways: each
side's seeded noise is found in what the other received."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.console.conftest import CHROMIUM, STEP_MS, _tenant
from tests.integration.server import Cli, serving
from tests.ports import free_port
from tests.webrtc_audio import loudest_stray, matching_windows, noise, resample, write_wav
from voxcast.audio.g711 import ulaw_decode, ulaw_encode
from voxcast.client import AsyncVoxcastClient
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import browser_agents
from voxcast.services.browser_agents import CallState, OfferedCall
from voxcast.telephony.rtp.packet import Sequencer, parse

# the test itself (serve starting is bounded by its own wait for /healthz)
pytestmark = pytest.mark.timeout(60, func_only=True)

NUMBER = "4001"
MIC_SEED, CALLER_SEED = 11, 12


class Caller(asyncio.DatagramProtocol):
    """A caller's phone: SIP on one socket (INVITE, ACK, BYE, and 200 to the far end's BYE),
    µ-law RTP on another; keeps what it hears."""

    def __init__(self, registrar: tuple[str, int]) -> None:
        self.registrar = registrar
        self.sip: asyncio.DatagramTransport | None = None
        self.rtp: asyncio.DatagramTransport | None = None
        self.responses: asyncio.Queue[str] = asyncio.Queue()
        self.bye = asyncio.Event()
        self.heard: list[bytes] = []
        self.call_id = f"{secrets.token_hex(8)}@127.0.0.1"
        self.tag = secrets.token_hex(4)
        self.to = ""
        self.media: tuple[str, int] | None = None

    def connection_made(self, transport: Any) -> None:
        if self.sip is None:
            self.sip = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        text = data.decode(errors="replace")
        if text.startswith("SIP/2.0"):
            self.responses.put_nowait(text)
        elif text.startswith("BYE"):
            self.bye.set()
            self.sip.sendto(_ok_to(text), addr)  # type: ignore[union-attr]

    def _request(self, method: str, cseq: int, body: str = "") -> bytes:
        port = self.sip.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        host, rport = self.registrar
        lines = [
            f"{method} sip:{NUMBER}@{host}:{rport} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{secrets.token_hex(6)};rport",
            f"From: <sip:15550100@127.0.0.1:{port}>;tag={self.tag}",
            f"To: {self.to or f'<sip:{NUMBER}@{host}:{rport}>'}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:15550100@127.0.0.1:{port}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    async def call(self) -> None:
        """INVITE until answered (the hold tone plays from then on), then ACK."""
        assert self.sip is not None and self.rtp is not None
        rtp_port = self.rtp.get_extra_info("sockname")[1]
        sdp = (
            "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
        )
        self.sip.sendto(self._request("INVITE", 1, sdp), self.registrar)
        while True:
            response = await asyncio.wait_for(self.responses.get(), 10)
            code = int(response.split()[1])
            if code >= 200:
                break
        assert code == 200, response
        self.to = re.search(r"^To: (.*)$", response, re.M | re.I).group(1).strip()  # type: ignore[union-attr]
        address = re.search(r"^c=IN IP4 (\S+)", response, re.M).group(1)  # type: ignore[union-attr]
        port = int(re.search(r"^m=audio (\d+)", response, re.M).group(1))  # type: ignore[union-attr]
        self.media = (address, port)
        self.sip.sendto(self._request("ACK", 1), self.registrar)

    async def talk(self, samples: npt.NDArray[np.int16], seconds: float) -> None:
        assert self.rtp is not None and self.media is not None
        sequencer = Sequencer(secrets.randbits(32), 1, 1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(int(seconds / 0.02)):
            at = (i * 160) % len(samples)
            chunk = np.resize(np.roll(samples, -at), 160)
            payload = ulaw_encode(chunk.astype("<i2").tobytes())
            self.rtp.sendto(sequencer.next(0, payload).pack(), self.media)
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))

    def audio(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(b"".join(self.heard), dtype="<i2")


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def datagram_received(self, data: bytes, addr: Any) -> None:
        packet = parse(data)
        if packet.payload_type == 0:
            self.caller.heard.append(ulaw_decode(packet.payload))


def _ok_to(request: str) -> bytes:
    """200 OK to an in-dialog request: its Via, From, To, Call-ID and CSeq echoed."""
    keep = [
        line
        for line in request.split("\r\n")
        if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")
    ]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


@dataclass
class Served:
    base: str
    api: AsyncVoxcastClient
    app_id: str
    registrar_port: int
    settings: Settings


@pytest.fixture
async def served(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """`voxcast serve` (real time) with its registrar and WebRTC on loopback; an account."""
    registrar_port = free_port()
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.data_dir.mkdir(parents=True)
    cli.extra_env.update(
        {"VOXCAST_REGISTRAR": f"127.0.0.1:{registrar_port}", "VOXCAST_WEBRTC_HOSTS": "127.0.0.1"}
    )
    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        db_url,
        cli.data_dir,
        cli.secret_key,
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        creds, _ = await _tenant(rt, "alice")
    finally:
        await rt.close()
    with serving(cli) as base:
        api = AsyncVoxcastClient(base, creds.api_key, creds.api_secret, timeout=30)
        try:
            yield Served(base, api, creds.app_id, registrar_port, settings)
        finally:
            await api.aclose()


RECORD_JS = """
async (seconds) => {
  const ctx = new AudioContext({sampleRate: 8000});
  await ctx.resume();
  const source = ctx.createMediaStreamSource(window.voxcastPhone.remote);
  const tap = ctx.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  tap.onaudioprocess = (e) => chunks.push(Array.from(e.inputBuffer.getChannelData(0)));
  source.connect(tap);
  tap.connect(ctx.destination);
  await new Promise((done) => setTimeout(done, seconds * 1000));
  source.disconnect();
  tap.disconnect();
  await ctx.close();
  return chunks.flat();
}
"""


async def wait_for(page: Page, selector: str, attribute: str, value: str) -> None:
    await expect(page.locator(selector)).to_have_attribute(attribute, value, timeout=STEP_MS)


async def test_an_agent_answers_a_transferred_caller_in_the_browser_and_both_hear(
    served: Served, tmp_path: Path
) -> None:
    base, api, app_id, registrar_port = (
        served.base,
        served.api,
        served.app_id,
        served.registrar_port,
    )
    # the group, its browser agent and the number that rings it
    assert (await api.add_seat_group(app_id, "web-agents")).code == "0"
    [group] = (await api.query_seat_groups()).data["records"]
    group_id = int(group["voiceGroupId"])
    [seat] = (await api.add_seats(voiceGroupId=group_id, size=1)).data
    assert (await api.add_inbound_number(NUMBER, group_id)).code == "0"
    token = (await api.create_sdk_authentication(seat["name"], 600)).data["authentication"]
    # the microphone: seeded noise, as a 48 kHz WAV longer than the test (Chromium loops it,
    # and its loop point is no seamless joint to match across)
    mic = noise(MIC_SEED, 40.0)
    wav = tmp_path / "mic.wav"
    write_wav(wav, resample(mic, 8000, 48000), 48000)
    from_caller = noise(CALLER_SEED, 2.0)
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
    ]
    loop = asyncio.get_running_loop()
    caller = Caller(("127.0.0.1", registrar_port))
    sip, _ = await loop.create_datagram_endpoint(lambda: caller, local_addr=("127.0.0.1", 0))
    rtp, _ = await loop.create_datagram_endpoint(lambda: _Rtp(caller), local_addr=("127.0.0.1", 0))
    caller.rtp = rtp  # type: ignore[assignment]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            context = await browser.new_context()
            context.set_default_timeout(STEP_MS)
            page = await context.new_page()
            # the credential opens the page (and leaves the address bar without it)
            await page.goto(f"{base}/console/agent?token={token}")
            assert page.url == f"{base}/console/agent"
            await wait_for(page, "#phone-state", "data-state", "ready")
            await wait_for(page, "#agent-status", "data-status", "2")  # idle
            await caller.call()
            await wait_for(page, "#call", "data-state", "ringing")
            await expect(page.locator("#call h2")).to_contain_text("15550100")
            await page.click("#answer")
            await wait_for(page, "#call", "data-state", "talking")
            await wait_for(page, "#agent-status", "data-status", "3")  # busy
            caller.heard.clear()
            talking = asyncio.ensure_future(caller.talk(from_caller, 4.0))
            await asyncio.sleep(1.0)
            recorded = await page.evaluate(RECORD_JS, 2)
            await talking
            heard_by_browser = (np.array(recorded) * 32767).astype(np.int16)[-8000:]
            heard_by_caller = caller.audio()[-8000:]
            await page.click("#hangup")
            await asyncio.wait_for(caller.bye.wait(), 10)
            await wait_for(page, "#call", "data-state", "none")
        finally:
            await browser.close()
            sip.close()
            rtp.close()
    assert len(heard_by_browser) == 8000 and len(heard_by_caller) == 8000
    windows = matching_windows(from_caller, heard_by_browser)
    assert windows >= 4, f"the browser heard the caller in {windows} of 5 windows"
    wrong = loudest_stray(mic, heard_by_browser)
    assert wrong < 0.3, f"the browser heard its own microphone at r={wrong:.3f}"
    windows = matching_windows(mic, heard_by_caller)
    assert windows >= 4, f"the caller heard the browser's microphone in {windows} of 5 windows"
    wrong = loudest_stray(from_caller, heard_by_caller)
    assert wrong < 0.3, f"the caller heard itself at r={wrong:.3f}"


async def test_sign_in_break_the_offered_callees_row_and_refusals(
    served: Served,
) -> None:
    """Without a caller: the SIP name and password sign in (a wrong one is refused), break is
    the agent's to take and end, an offered call shows the callee's row (text1...), a
    replaced credential opens nothing, and a POST without the page's token is refused."""
    base, api, app_id = served.base, served.api, served.app_id
    assert (await api.add_seat_group(app_id, "web-agents")).code == "0"
    [group] = (await api.query_seat_groups()).data["records"]
    [seat] = (await api.add_seats(voiceGroupId=int(group["voiceGroupId"]), size=1)).data
    old = (await api.create_sdk_authentication(seat["name"], 600)).data["authentication"]
    assert (await api.create_sdk_authentication(seat["name"], 600)).code == "0"  # replaces it
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            context = await browser.new_context()
            context.set_default_timeout(STEP_MS)
            page = await context.new_page()
            response = await page.goto(f"{base}/console/agent?token={old}")
            assert response is not None and response.status == 401
            await expect(page.locator("[role=alert]")).to_contain_text("expired or was replaced")
            await page.fill("input[name=username]", seat["name"])
            await page.fill("input[name=password]", "not-the-password")
            await page.click("button[type=submit]")
            await expect(page.locator("[role=alert]")).to_contain_text("Wrong agent name")
            await page.fill("input[name=username]", seat["name"])
            await page.fill("input[name=password]", seat["sipPassword"])
            await page.click("button[type=submit]")
            await wait_for(page, "#phone-state", "data-state", "ready")
            await wait_for(page, "#agent-status", "data-status", "2")
            await page.click("#break")
            await wait_for(page, "#agent-status", "data-status", "5")
            await page.click("#break")
            await wait_for(page, "#agent-status", "data-status", "2")
            # a call offered as a worker offers it: the callee's row is shown
            await offer_directly(served.settings, int(seat["keyId"]))
            await wait_for(page, "#call", "data-state", "ringing")
            await expect(page.locator("#call [data-field=text1]")).to_have_text("Ann Lee")
            await expect(page.locator("#call [data-field=text2]")).to_have_text("order 17")
            refused = await page.request.post(
                f"{base}/console/agent/answer", form={"call": "c0ffee"}
            )
            assert refused.status == 403
        finally:
            await browser.close()


async def offer_directly(settings: Settings, key_id: int) -> None:
    rt = await open_runtime(settings, SystemClock(), run_migrations=False)
    try:
        async with rt.sessions.begin() as session:
            await browser_agents.offer(
                session,
                key_id,
                OfferedCall(
                    call_id="c0ffee",
                    state=CallState.RINGING,
                    callee="+15550123",
                    info={"text1": "Ann Lee", "text2": "order 17"},
                    codec=0,
                    leg=("127.0.0.1", 9),
                    offered_at=rt.clock.now().isoformat(),
                ),
            )
    finally:
        await rt.close()
