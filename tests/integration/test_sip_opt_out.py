"""The opt-out key while a SIP callee waits for an agent: the hold tone stops at once, the
search is called off (no agent is rung), the confirmation plays once and we hang up. SIPp
presses the key and echoes what we send, media in this process and in worker processes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.test_carrier_contract import CONFIRMATION_HZ, DTMF_1, pitches, tone
from tests.sipp.runner import Sipp
from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.ports import (
    OPTED_OUT,
    AgentRinging,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    OptOut,
    Prompt,
    ReservedAgent,
    Transfer,
    TransferStarted,
)
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sip.aio.carrier import SipCarrier, TrunkConfig


class BusyDesk:
    """No agent is ever free: the callee waits (on hold) until the wait runs out."""

    def __init__(self) -> None:
        self.asked = 0

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None:
        self.asked += 1
        return None

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
        raise AssertionError("no agent was reserved")


@pytest.fixture(params=["in-process", "workers"])
async def media(request: pytest.FixtureRequest) -> AsyncIterator[MediaEngine]:
    engine = (
        MediaWorkers("127.0.0.1", workers=1)
        if request.param == "workers"
        else MediaEngine("127.0.0.1")
    )
    try:
        yield engine
    finally:
        await engine.close()


async def test_the_opt_out_key_on_hold_stops_the_wait_and_plays_the_confirmation(
    media: MediaEngine,
) -> None:
    prompts = PromptAudio(None)
    prompts.extra["short"] = tone(0.4)  # over before the key: the callee is then on hold
    prompts.extra["confirmation"] = tone(0.6, CONFIRMATION_HZ)
    desk = BusyDesk()
    request = DialRequest(
        callee="8613000000001",
        caller_id="100",
        prompt=Prompt("short", 0.4),
        max_talk_s=20,
        record=True,
        transfer=Transfer(desk, group_id=1, mode=1, wait_s=15),
        opt_out=OptOut("1", Prompt("confirmation", 0.6)),
    )
    sipp = await Sipp.start("answer_dtmf.xml", keys={"dtmf_pcap": DTMF_1})
    carrier = SipCarrier(
        TrunkConfig("sipp", sipp.host, sipp.port),
        SystemClock(),
        media,
        prompts,
        recordings=Path(tempfile.mkdtemp(prefix="voxcast-optout-")),
    )
    try:
        call = await carrier.dial(request)
        events = await asyncio.wait_for(_all(call.events()), 20)
        far = await sipp.wait(10)
    finally:
        sipp.cleanup()
        await carrier.close()
    assert far.ok, far  # SIPp got our BYE
    kinds = [type(e) for e in events]
    assert kinds.index(TransferStarted) < kinds.index(Dtmf)
    assert AgentRinging not in kinds
    end = events[-1]
    assert isinstance(end, HungUp)
    assert (end.by, end.reason) == (HangupBy.US, OPTED_OUT)
    key = next(e for e in events if isinstance(e, Dtmf))
    assert 0.6 <= (end.at - key.at).total_seconds() <= 0.6 + 0.3
    # what SIPp heard: prompt, hold tone, then the confirmation once and nothing else
    assert call.stats.recording is not None
    heard = pitches(call.stats.recording.read_bytes()[44:])
    switch = heard.index("confirmation")
    assert "confirmation" not in heard[:switch] and heard[switch:].count("other") <= 2
    assert 0.54 <= heard.count("confirmation") * 0.02 <= 0.62


async def _all(events: AsyncIterator[object]) -> list[object]:
    return [e async for e in events]
