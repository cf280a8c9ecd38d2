"""SIP calls whose media runs in worker processes (`MediaWorkers`), SIPp as the far end: a
media worker killed with SIGKILL mid-prompt ends its call at once with a BYE and a record
saying so (by network, the cause named), instead of a call left talking silence until its
talk limit; a call placed afterwards is carried by the worker still alive."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.sipp.runner import Sipp, sipp_available
from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.ports import Answered, CallEvent, DialRequest, HangupBy, HungUp, Prompt, PromptDone
from voxcast.telephony.rtp.workers import MediaWorkers, RemoteStream
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier, TrunkConfig


def request(prompt_s: float) -> DialRequest:
    return DialRequest(
        callee="8613000000000",
        caller_id="1000",
        prompt=Prompt("p", prompt_s),
        max_ringing_s=10,
        max_talk_s=60,
    )


async def test_a_killed_media_worker_ends_its_call_with_a_clear_record() -> None:
    if not sipp_available():
        pytest.fail("SIPp is missing: run scripts/setup-system.sh (package sip-tester)")
    media = MediaWorkers("127.0.0.1", workers=2)
    prompts = PromptAudio(None)
    prompts.extra["p"] = b"\x00\x00" * 8000 * 30  # 30 s: the call would outlive the test
    prompts.extra["short"] = b"\x00\x00" * 4000  # 0.5 s: 25 packets
    first = await Sipp.start("answer_hold.xml")
    second = await Sipp.start("answer_hold.xml")
    carriers = [
        SipCarrier(TrunkConfig("a", sipp.host, sipp.port), SystemClock(), media, prompts)
        for sipp in (first, second)
    ]
    try:
        call = await carriers[0].dial(request(30))
        assert isinstance(call, SipCall)
        events: list[CallEvent] = []

        async def follow() -> None:
            async for event in call.events():
                events.append(event)

        following = asyncio.ensure_future(follow())
        for _ in range(1000):
            if any(isinstance(e, Answered) for e in events) and call.stats.codec is not None:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the prompt is playing, from a worker
        stream = call._media
        assert isinstance(stream, RemoteStream)
        os.kill(stream._shard.pid, signal.SIGKILL)
        await asyncio.wait_for(following, 10)
        end = events[-1]
        assert isinstance(end, HungUp)
        assert end.by is HangupBy.NETWORK and end.sip_code == 200
        assert "media lost" in end.reason and "killed by signal 9" in end.reason
        assert not any(isinstance(e, PromptDone) for e in events)  # it was not heard out
        # the far end got our BYE: its scenario (answer, hold, BYE) went as planned
        result = await first.wait(10)
        assert result.ok, result

        # the next call goes to the worker still alive and plays its prompt through
        short = DialRequest(
            callee="8613000000000",
            caller_id="1000",
            prompt=Prompt("short", 0.5),
            max_ringing_s=10,
            max_talk_s=60,
        )
        after = await carriers[1].dial(short)
        later = [e async for e in after.events()]
        assert any(isinstance(e, PromptDone) for e in later)
        final = later[-1]
        assert isinstance(final, HungUp) and final.by is HangupBy.US
        assert isinstance(after, SipCall) and after.stats.rtp_sent == 25
        assert (await second.wait(10)).ok
    finally:
        for sipp in (first, second):
            sipp.cleanup()
        for carrier in carriers:
            await carrier.close()
        await media.close()
