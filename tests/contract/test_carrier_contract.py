"""The Carrier contract: every carrier passes these same tests, the sandbox and the SIP carrier
(with SIPp as the far end, one scenario per behaviour).

A harness dials a behaviour ("answers", "busy", ...) and says how to scale the test's seconds:
the sandbox runs on a 200x clock so its seconds are cheap; SIP runs in real time, so its
prompts and limits are a quarter as long.
"""

from __future__ import annotations

import math
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from tests.sipp.runner import Sipp, sipp_available
from voxcast.audio.playback import PromptAudio
from voxcast.clock import ScaledClock, SystemClock
from voxcast.ports import (
    Answered,
    Call,
    CallEvent,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    Ringing,
)
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.telephony.sip.carrier import SipCarrier, TrunkConfig

SPEED = 200.0
SANDBOX_NUMBERS = {
    "answers": "8613000000000",
    "presses_1": "8613000000001",
    "hangs_up_after_3s": "8613000000003",
    "no_answer": "8613000000004",
    "busy": "8613000000005",
    "not_found": "8613000000007",
}
DTMF_1 = "/usr/share/sip-tester/dtmf_2833_1.pcap"


@dataclass
class Harness:
    name: str
    #: dial(behaviour, request) → the call; the far end behaves as named
    dial: Callable[[str, DialRequest], Awaitable[Call]]
    scale: float  # the test's seconds are multiplied by this
    slack: float  # extra tolerance in real seconds (scheduling, the 20 ms packet grid)


def tone(seconds: float) -> bytes:
    """A 440 Hz tone as 8 kHz 16-bit PCM: a prompt of exactly that length."""
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / 8000)))
        for i in range(int(8000 * seconds))
    )


@pytest.fixture(params=["sandbox", "sip"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "sandbox":
        carrier = SandboxCarrier(ScaledClock(SPEED))

        async def dial_sandbox(behaviour: str, req: DialRequest) -> Call:
            return await carrier.dial(_renumbered(req, SANDBOX_NUMBERS[behaviour]))

        yield Harness("sandbox", dial_sandbox, 1.0, 0.0)
        await carrier.close()
        return
    if not sipp_available():
        pytest.fail("SIPp is missing: run scripts/setup-system.sh (package sip-tester)")
    media = MediaEngine("127.0.0.1")
    prompts = PromptAudio(None)
    carriers: list[SipCarrier] = []
    farends: list[Sipp] = []
    scale = 0.25

    async def dial_sip(behaviour: str, req: DialRequest) -> Call:
        prompts.extra[req.prompt.ref] = tone(req.prompt.duration_s)
        sipp = await start_far_end(behaviour, scale)
        farends.append(sipp)
        carrier = SipCarrier(
            TrunkConfig("sipp", sipp.host, sipp.port), SystemClock(), media, prompts
        )
        carriers.append(carrier)
        return await carrier.dial(req)

    try:
        yield Harness("sip", dial_sip, scale, 0.15)
        for sipp in farends:
            result = await sipp.wait(10)
            assert result.ok, result
    finally:
        for sipp in farends:
            sipp.cleanup()
        for carrier in carriers:
            await carrier.close()
        await media.close()


async def start_far_end(behaviour: str, scale: float) -> Sipp:
    if behaviour == "answers":
        return await Sipp.start("answer_hold.xml")
    if behaviour == "presses_1":
        return await Sipp.start("answer_dtmf.xml", keys={"dtmf_pcap": DTMF_1})
    if behaviour == "hangs_up_after_3s":
        return await Sipp.start("answer_then_hangup.xml", duration_ms=int(3000 * scale))
    if behaviour == "no_answer":
        return await Sipp.start("ring_until_cancel.xml")
    if behaviour == "busy":
        return await Sipp.start("reject_486.xml")
    if behaviour == "not_found":
        return await Sipp.start("reject_404.xml")
    raise AssertionError(behaviour)


def _renumbered(req: DialRequest, number: str) -> DialRequest:
    fields = dict(req.__dict__)
    fields["callee"] = number
    return DialRequest(**fields)


def request_for(h: Harness, **kw: object) -> DialRequest:
    base: dict[str, object] = {
        "callee": "8613000000000",
        "caller_id": "1008122211",
        "prompt": Prompt("test-prompt", 4.0 * h.scale),
        "max_ringing_s": 30 * h.scale,
        "max_talk_s": 60 * h.scale,
    }
    base.update(kw)
    return DialRequest(**base)  # type: ignore[arg-type]


async def collect(h: Harness, behaviour: str, req: DialRequest) -> list[CallEvent]:
    call = await h.dial(behaviour, req)
    return [e async for e in call.events()]


def assert_well_formed(events: list[CallEvent]) -> HungUp:
    hangups = [e for e in events if isinstance(e, HungUp)]
    assert len(hangups) == 1, events
    assert events[-1] is hangups[0]
    times = [e.at for e in events]
    assert times == sorted(times)
    return hangups[0]


def seconds_between(first: CallEvent, last: CallEvent) -> float:
    return (last.at - first.at).total_seconds()


async def test_answered_call_rings_answers_plays_and_ends_with_one_hangup(h: Harness) -> None:
    events = await collect(h, "answers", request_for(h, loop_count=2))
    end = assert_well_formed(events)
    kinds = [type(e) for e in events]
    assert kinds.index(Ringing) < kinds.index(Answered) < kinds.index(PromptDone)
    answered = next(e for e in events if isinstance(e, Answered))
    assert end.sip_code == 200
    assert end.by is HangupBy.US
    talk = seconds_between(answered, end)
    assert 8.0 * h.scale <= talk <= 9.0 * h.scale + h.slack  # two loops of a 4 s prompt


async def test_key_press_is_reported_as_dtmf(h: Harness) -> None:
    events = await collect(h, "presses_1", request_for(h, loop_count=3))
    assert_well_formed(events)
    assert [e.digit for e in events if isinstance(e, Dtmf)] == ["1"]


async def test_callee_hang_up_is_reported_as_by_callee(h: Harness) -> None:
    events = await collect(h, "hangs_up_after_3s", request_for(h))
    end = assert_well_formed(events)
    assert end.by is HangupBy.CALLEE
    answered = next(e for e in events if isinstance(e, Answered))
    assert abs(seconds_between(answered, end) - 3.0 * h.scale) < 0.5 * h.scale + h.slack


async def test_unanswered_call_ends_when_max_ringing_runs_out(h: Harness) -> None:
    events = await collect(h, "no_answer", request_for(h, max_ringing_s=20 * h.scale))
    end = assert_well_formed(events)
    assert not any(isinstance(e, Answered) for e in events)
    ringing = next(e for e in events if isinstance(e, Ringing))
    assert end.sip_code in (480, 487)
    assert end.by is HangupBy.US
    assert abs(seconds_between(ringing, end) - 20.0 * h.scale) < 1.5 * h.scale + h.slack


async def test_max_talk_time_forces_hang_up(h: Harness) -> None:
    events = await collect(h, "answers", request_for(h, loop_count=9, max_talk_s=5 * h.scale))
    end = assert_well_formed(events)
    answered = next(e for e in events if isinstance(e, Answered))
    assert end.by is HangupBy.US
    assert abs(seconds_between(answered, end) - 5.0 * h.scale) < 0.5 * h.scale + h.slack


@pytest.mark.parametrize(("behaviour", "code"), [("busy", 486), ("not_found", 404)])
async def test_failed_calls_report_the_sip_code(h: Harness, behaviour: str, code: int) -> None:
    events = await collect(h, behaviour, request_for(h))
    end = assert_well_formed(events)
    assert end.sip_code == code
    assert not any(isinstance(e, Answered) for e in events)


async def test_hangup_while_ringing_ends_the_call_once(h: Harness) -> None:
    call = await h.dial("no_answer", request_for(h))
    events: list[CallEvent] = []
    async for event in call.events():
        events.append(event)
        if isinstance(event, Ringing):
            await call.hangup()
    end = assert_well_formed(events)
    assert end.by is HangupBy.US
    await call.hangup()  # a second hang-up is harmless


async def test_delay_play_and_delay_hangup_shift_the_prompt(h: Harness) -> None:
    req = request_for(h, loop_count=1, delay_play_s=2 * h.scale, delay_hangup_s=1 * h.scale)
    events = await collect(h, "answers", req)
    end = assert_well_formed(events)
    answered = next(e for e in events if isinstance(e, Answered))
    done = next(e for e in events if isinstance(e, PromptDone))
    # prompt done after the delay plus one 4 s prompt; hang-up one delay later
    assert abs(seconds_between(answered, done) - 6.0 * h.scale) < 0.25 * h.scale + h.slack
    assert abs(seconds_between(done, end) - 1.0 * h.scale) < 0.25 * h.scale + h.slack


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness
