"""The Carrier contract: every carrier passes these same tests, the sandbox and the SIP carrier
(with SIPp as the far end, one scenario per behaviour), whose media runs in this process
("sip") or in worker processes ("sip-workers", `MediaWorkers`).

A harness dials a behaviour ("answers", "busy", ...) and says how to scale the test's seconds:
the sandbox runs on a 20x clock so its seconds are cheap; SIP runs in real time, so its
prompts and limits are a quarter as long. Every event is also timed when the test receives it,
on the carrier's clock: a carrier's timestamps must say when things really happened (the
sandbox's are planned ahead, so this is what shows it really waits for them).
"""

from __future__ import annotations

import asyncio
import functools
import math
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.data.amd.make import HERE as AMD_SET
from tests.data.amd.make import read_ulaw_wav
from tests.sipp.pcap import write_rtp_pcap
from tests.sipp.runner import Sipp, free_port, sipp_available
from voxcast.audio import g711
from voxcast.audio.playback import PromptAudio
from voxcast.clock import ScaledClock, SystemClock
from voxcast.domain.amd import AmdSettings, Verdict
from voxcast.ports import (
    OPTED_OUT,
    AgentAnswered,
    AgentRinging,
    AmdDecided,
    Answered,
    BargedIn,
    Call,
    CalleeSaid,
    CalleeSpeaking,
    CallEvent,
    Conversation,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    OptOut,
    Prompt,
    PromptDone,
    Recorded,
    ReservedAgent,
    Ringing,
    Transfer,
    TransferStarted,
)
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sandbox import SandboxCarrier, callee_voice
from voxcast.telephony.sandbox_agents import VIRTUAL_AGENT_TALK_S
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier, TrunkConfig

#: fast enough to be cheap, slow enough that the event loop's scheduling delays (tens of
#: milliseconds under load) stay small in sandbox seconds
SPEED = 20.0
SANDBOX_NUMBERS = {
    "answers": "8613000000000",
    "presses_1": "8613000000001",
    "hangs_up_after_3s": "8613000000003",
    "no_answer": "8613000000004",
    "busy": "8613000000005",
    "not_found": "8613000000007",
    # answering-machine detection on: second-to-last digit 9 is a machine (greeting, beep)
    "machine": "8613000000090",
    "person": "8613000000000",
}
#: what SIPp says when it answers, from the AMD test set (tests/data/amd)
SIPP_VOICES = {"machine": "machine-spoken0.wav", "person": "human-spoken0.wav"}
DTMF_1 = "/usr/share/sip-tester/dtmf_2833_1.pcap"


@dataclass
class Harness:
    name: str
    #: dial(behaviour, request) → the call; the far end behaves as named
    dial: Callable[[str, DialRequest], Awaitable[Call]]
    scale: float  # the test's seconds are multiplied by this
    slack: float  # extra tolerance in real seconds (scheduling, the 20 ms packet grid)
    #: the carrier's clock, read when the test receives an event
    now: Callable[[], datetime]
    #: how late (in the clock's seconds) an event may be received after its timestamp
    lag: float
    #: agent(talk_s) → an agent that answers when rung and hangs up after `talk_s` test
    #: seconds (the sandbox's virtual agents always talk VIRTUAL_AGENT_TALK_S)
    agent: Callable[[float], Awaitable[ReservedAgent]]


PROMPT_HZ, CONFIRMATION_HZ = 440.0, 1000.0


def tone(seconds: float, hz: float = PROMPT_HZ) -> bytes:
    """A 440 Hz tone as 8 kHz 16-bit PCM: a prompt of exactly that length."""
    return b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * hz * i / 8000)))
        for i in range(int(8000 * seconds))
    )


@pytest.fixture(params=["sandbox", "sip", "sip-workers"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "sandbox":
        clock = ScaledClock(SPEED)
        carrier = SandboxCarrier(clock)

        async def dial_sandbox(behaviour: str, req: DialRequest) -> Call:
            return await carrier.dial(_renumbered(req, SANDBOX_NUMBERS[behaviour]))

        async def virtual_agent(talk_s: float) -> ReservedAgent:
            assert talk_s == VIRTUAL_AGENT_TALK_S
            return ReservedAgent(1, "agent-1", "sales", "1001", None, ring_timeout_s=20)

        yield Harness("sandbox", dial_sandbox, 1.0, 0.0, clock.now, 0.15 * SPEED, virtual_agent)
        await carrier.close()
        return
    if not sipp_available():
        pytest.fail("SIPp is missing: run scripts/setup-system.sh (package sip-tester)")
    media = (
        MediaWorkers("127.0.0.1", workers=2)
        if request.param == "sip-workers"
        else MediaEngine("127.0.0.1")
    )
    prompts = PromptAudio(None)
    carriers: list[SipCarrier] = []
    farends: list[Sipp] = []
    scale = 0.25
    wall = SystemClock()
    recordings = Path(tempfile.mkdtemp(prefix="voxcast-contract-"))

    async def dial_sip(behaviour: str, req: DialRequest) -> Call:
        prompts.extra[req.prompt.ref] = tone(req.prompt.duration_s)
        if req.opt_out is not None:  # the confirmation: another pitch, to tell them apart
            confirmation = req.opt_out.confirmation
            prompts.extra[confirmation.ref] = tone(confirmation.duration_s, CONFIRMATION_HZ)
        sipp = await start_far_end(behaviour, scale)
        farends.append(sipp)
        carrier = SipCarrier(
            TrunkConfig("sipp", sipp.host, sipp.port), wall, media, prompts, recordings=recordings
        )
        carriers.append(carrier)
        return await carrier.dial(req)

    async def softphone(talk_s: float) -> ReservedAgent:
        """SIPp as the agent's softphone: answers at once, talks, then sends its BYE."""
        port = free_port()
        farends.append(
            await Sipp.start("agent_answer.xml", duration_ms=int(talk_s * scale * 1000), port=port)
        )
        return ReservedAgent(1, "agent-1", "sales", "1001", f"sip:agent@127.0.0.1:{port}", 5.0)

    try:
        # 0.3 s: an event's delivery on a busy 2-core CI machine (SIPp, media workers and the
        # suite's other workers share it); the carrier's own timing is what the checks test
        yield Harness("sip", dial_sip, scale, 0.15, wall.now, 0.3, softphone)
        for sipp in farends:
            result = await sipp.wait(10)
            assert result.ok, result
    finally:
        for sipp in farends:
            sipp.cleanup()
        for sip_carrier in carriers:
            await sip_carrier.close()
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
    if behaviour in SIPP_VOICES:
        # no echo: the detector must hear the callee, not our prompt coming back
        pcap = str(talk_pcap(behaviour))
        return await Sipp.start("answer_talk.xml", keys={"talk_pcap": pcap}, rtp_echo=False)
    if behaviour == "busy":
        return await Sipp.start("reject_486.xml")
    if behaviour == "not_found":
        return await Sipp.start("reject_404.xml")
    raise AssertionError(behaviour)


@functools.lru_cache(maxsize=4)
def callee_says(behaviour: str, harness: str) -> bytes:
    """The far end's µ-law audio from the answer on, for the AMD behaviours."""
    if harness == "sandbox":
        return callee_voice(behaviour == "machine")
    return read_ulaw_wav(AMD_SET / SIPP_VOICES[behaviour])


@functools.lru_cache(maxsize=4)
def talk_pcap(behaviour: str) -> str:
    folder = tempfile.mkdtemp(prefix="voxcast-amd-pcap-")
    audio = read_ulaw_wav(AMD_SET / SIPP_VOICES[behaviour])
    return str(write_rtp_pcap(Path(folder) / f"{behaviour}.pcap", audio))


def beep_ends_at(ulaw: bytes) -> float:
    """Seconds into the audio where its beep (its last loud sound) ends."""
    pcm = g711.ulaw_decode(ulaw)
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    last = max(i for i, x in enumerate(samples) if abs(x) > 2000)
    return (last + 1) / 8000


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


async def observe(h: Harness, behaviour: str, req: DialRequest) -> list[tuple[CallEvent, datetime]]:
    """The call's events, each with the carrier's clock when the test received it; each was
    received no earlier than its timestamp and at most `h.lag` after it."""
    call = await h.dial(behaviour, req)
    seen = [(e, h.now()) async for e in call.events()]
    for event, at in seen:
        late = (at - event.at).total_seconds()
        assert -0.001 <= late <= h.lag, f"{event} received {late:+.3f} s after its time"
    return seen


async def collect(h: Harness, behaviour: str, req: DialRequest) -> list[CallEvent]:
    return [e for e, _at in await observe(h, behaviour, req)]


def received_between(
    seen: list[tuple[CallEvent, datetime]], first: type[CallEvent], last: type[CallEvent]
) -> float:
    """Seconds of the carrier's clock between receiving the first `first` and the first `last`."""
    start = next(at for e, at in seen if isinstance(e, first))
    end = next(at for e, at in seen if isinstance(e, last))
    return (end - start).total_seconds()


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
    seen = await observe(h, "no_answer", request_for(h, max_ringing_s=20 * h.scale))
    events = [e for e, _at in seen]
    end = assert_well_formed(events)
    assert not any(isinstance(e, Answered) for e in events)
    assert end.sip_code in (480, 487)
    assert end.by is HangupBy.US
    # measured: the ringing really lasted the limit before the test saw the hang-up
    rang = received_between(seen, Ringing, HungUp)
    assert abs(rang - 20.0 * h.scale) < 1.5 * h.scale + h.slack + h.lag


async def test_max_talk_time_forces_hang_up(h: Harness) -> None:
    req = request_for(h, loop_count=9, max_talk_s=5 * h.scale)
    seen = await observe(h, "answers", req)
    events = [e for e, _at in seen]
    end = assert_well_formed(events)
    assert end.by is HangupBy.US
    assert not any(isinstance(e, PromptDone) for e in events)  # cut off mid-prompt
    # measured: the call really talked the limit before the test saw the hang-up
    talked = received_between(seen, Answered, HungUp)
    assert abs(talked - 5.0 * h.scale) < 0.5 * h.scale + h.slack + h.lag


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


def amd_decided(h: Harness, events: list[CallEvent]) -> AmdDecided:
    decided = [e for e in events if isinstance(e, AmdDecided)]
    assert len(decided) == 1, events  # once
    answered = next(e for e in events if isinstance(e, Answered))
    assert answered.at <= decided[0].at
    # the verdict's time is the detector's, counted from the answer in the callee's audio
    taken = seconds_between(answered, decided[0])
    assert abs(taken - decided[0].result.at_ms / 1000) < 0.3 + h.slack + h.lag
    return decided[0]


async def test_amd_hangs_up_on_an_answering_machine(h: Harness) -> None:
    # a prompt longer than the greeting's first words: the verdict ends it, not its end
    req = request_for(h, amd=AmdSettings(), prompt=Prompt("amd-prompt", 6.0))
    events = await collect(h, "machine", req)
    end = assert_well_formed(events)
    decided = amd_decided(h, events)
    assert decided.result.verdict is Verdict.MACHINE
    assert decided.result.cause.startswith(("MAXWORDS", "LONGGREETING"))
    assert (end.by, end.sip_code, end.reason) == (HangupBy.US, 200, "answering machine")
    assert seconds_between(decided, end) < 0.3 + h.slack  # at once


async def test_amd_lets_a_person_hear_the_prompt(h: Harness) -> None:
    req = request_for(h, amd=AmdSettings(), prompt=Prompt("amd-prompt", 3.0))
    events = await collect(h, "person", req)
    end = assert_well_formed(events)
    assert amd_decided(h, events).result.verdict is Verdict.HUMAN
    assert any(isinstance(e, PromptDone) for e in events)
    assert end.reason == "normal clearing"


async def test_voicemail_drop_leaves_the_message_once_after_the_beep(h: Harness) -> None:
    req = request_for(h, amd=AmdSettings(), voicemail_drop=True, loop_count=3)
    events = await collect(h, "machine", req)
    end = assert_well_formed(events)
    assert amd_decided(h, events).result.verdict is Verdict.MACHINE
    answered = next(e for e in events if isinstance(e, Answered))
    done = [e for e in events if isinstance(e, PromptDone)]
    assert len(done) == 1
    # once (not loop_count times), started after the beep ended, not long after it
    started = seconds_between(answered, done[0]) - req.prompt.duration_s
    beep_end = beep_ends_at(callee_says("machine", h.name))
    assert beep_end - 0.1 <= started <= beep_end + 0.5 + h.slack
    assert (end.reason, end.by) == ("voicemail left", HangupBy.US)
    assert seconds_between(done[0], end) < 0.3 + h.slack


async def test_voicemail_drop_plays_to_a_person_after_the_verdict(h: Harness) -> None:
    req = request_for(h, amd=AmdSettings(), voicemail_drop=True)
    events = await collect(h, "person", req)
    end = assert_well_formed(events)
    decided = amd_decided(h, events)
    assert decided.result.verdict is Verdict.HUMAN
    done = next(e for e in events if isinstance(e, PromptDone))
    # the prompt waited for the verdict (it did not start at the answer)
    assert seconds_between(decided, done) >= req.prompt.duration_s - 0.05
    assert end.reason == "normal clearing"


def opt_out_request(h: Harness, **kw: object) -> DialRequest:
    """A long prompt (three loops of 8 s) that the key, one second in, cuts short."""
    confirmation = Prompt("confirmation", 2.0 * h.scale)
    return request_for(
        h,
        prompt=Prompt("long-prompt", 8.0 * h.scale),
        loop_count=3,
        opt_out=OptOut("1", confirmation),
        **kw,
    )


async def test_the_opt_out_key_plays_the_confirmation_once_then_hangs_up(h: Harness) -> None:
    req = opt_out_request(h, record=True)
    call = await h.dial("presses_1", req)
    events = [e async for e in call.events()]
    end = assert_well_formed(events)
    [key] = [e for e in events if isinstance(e, Dtmf)]
    assert key.digit == "1"
    assert (end.by, end.sip_code, end.reason) == (HangupBy.US, 200, OPTED_OUT)
    assert not any(isinstance(e, PromptDone) for e in events)
    # the confirmation's length after the key, not the rest of the prompt
    confirmation = req.opt_out.confirmation.duration_s if req.opt_out else 0.0
    assert confirmation <= seconds_between(key, end) <= confirmation + 0.1 + h.slack
    if isinstance(call, SipCall):  # what the far end heard (SIPp echoed it back)
        assert call.stats.recording is not None
        # reported on the port before the end: both sides in stereo, and the callee's
        [recorded] = [e for e in events if isinstance(e, Recorded)]
        assert recorded.customer == call.stats.recording
        assert recorded.full is not None and recorded.full == call.stats.recording_full
        assert events[-2] is recorded
        heard = pitches(call.stats.recording.read_bytes()[44:])
        switch = heard.index("confirmation")
        # the prompt up to the key (one second, the digit's own length), then only the
        # confirmation: not a frame of the prompt after it
        assert "prompt" not in heard[switch:]
        assert 0.9 <= heard[:switch].count("prompt") * 0.02 <= 1.0 + 0.4
        played = heard.count("confirmation") * 0.02
        assert confirmation - 0.06 <= played <= confirmation + 0.02


async def test_no_transfer_after_the_opt_out_key(h: Harness) -> None:
    transfer = Transfer(NoDesk(), group_id=1, mode=2, key="1")
    events = await collect(h, "presses_1", opt_out_request(h, transfer=transfer))
    end = assert_well_formed(events)
    assert not any(isinstance(e, TransferStarted) for e in events)
    assert end.reason == OPTED_OUT


class NoDesk:
    """A transfer's desk that must not be asked: the callee opted out."""

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None:
        raise AssertionError("an agent was looked for after the opt-out key")

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
        raise AssertionError("an agent was released after the opt-out key")


def pitches(pcm: bytes) -> list[str]:
    """Each 20 ms frame of 8 kHz PCM: "prompt" (440 Hz), "confirmation" (1 kHz) or "other"."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    out = []
    for start in range(0, len(samples) - 159, 160):
        frame = samples[start : start + 160]
        power = {
            name: _goertzel(frame, hz)
            for name, hz in (("prompt", PROMPT_HZ), ("confirmation", CONFIRMATION_HZ))
        }
        name, best = max(power.items(), key=lambda p: p[1])
        total = sum(x * x for x in frame) * len(frame) / 2 or 1.0
        out.append(name if best > 0.5 * total else "other")
    return out


def _goertzel(frame: tuple[int, ...], hz: float) -> float:
    coeff = 2 * math.cos(2 * math.pi * hz / 8000)
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness


# -- conversation calls (the robot's): nothing plays unless said ------------------------------


async def converse(
    h: Harness, plan: Callable[[Call, Prompt], Awaitable[None]]
) -> list[tuple[CallEvent, datetime]]:
    """A conversation call to the answering far end: `plan(call, prompt)` runs once it
    answered (the prompt: the request's, 4 test seconds), while the events are collected."""
    req = request_for(h, conversation=Conversation())
    call = await h.dial("answers", req)
    seen: list[tuple[CallEvent, datetime]] = []
    acting: list[asyncio.Task[None]] = []
    async for event in call.events():
        seen.append((event, h.now()))
        if isinstance(event, Answered):
            acting.append(asyncio.create_task(plan(call, req.prompt)))
    for task in acting:
        await task
    return seen


async def pause(h: Harness, seconds: float) -> None:
    """Test seconds, in real time (the sandbox runs on a faster clock)."""
    await asyncio.sleep(seconds * h.scale / (SPEED if h.name == "sandbox" else 1.0))


async def test_a_conversation_call_plays_only_what_it_is_told_then_stays(h: Harness) -> None:
    async def plan(call: Call, prompt: Prompt) -> None:
        call.say(prompt, interruptible=False)
        await pause(h, 7.0)
        await call.hangup()

    seen = await converse(h, plan)
    events = [e for e, _ in seen]
    end = assert_well_formed(events)
    assert (end.by, end.sip_code) == (HangupBy.US, 200)
    answered = next(e for e in events if isinstance(e, Answered))
    [done] = [e for e in events if isinstance(e, PromptDone)]
    assert 4.0 * h.scale <= seconds_between(answered, done) <= 4.0 * h.scale + h.slack + h.lag
    # it did not hang up after its prompt: we did, three seconds later
    assert seconds_between(done, end) >= 2.5 * h.scale


async def test_hush_stops_a_prompt_and_a_new_one_replaces_it(h: Harness) -> None:
    async def plan(call: Call, prompt: Prompt) -> None:
        call.say(prompt, interruptible=False)
        await pause(h, 1.0)
        call.hush()
        await pause(h, 0.5)
        call.say(prompt, interruptible=False)
        await pause(h, 1.0)
        call.say(prompt, interruptible=False)  # replaces the second one
        await pause(h, 5.0)
        await call.hangup()

    seen = await converse(h, plan)
    events = [e for e, _ in seen]
    assert_well_formed(events)
    answered = next(e for e in events if isinstance(e, Answered))
    ends = [seconds_between(answered, e) for e in events if isinstance(e, PromptDone)]
    # one end per prompt said: hushed at 1 s, replaced at 2.5 s, played out at 6.5 s
    assert len(ends) == 3, ends
    margin = h.slack + h.lag + 0.5 * h.scale
    for got, want in zip(ends, (1.0, 2.5, 6.5), strict=True):
        assert abs(got - want * h.scale) <= margin, ends


class Desk:
    """A transfer's desk of the given agents: each reserved by one search at a time."""

    def __init__(self, *agents: ReservedAgent) -> None:
        self.free = list(agents)
        self.released: list[tuple[int, bool]] = []

    async def reserve(self, group_id: int, exclude: frozenset[int]) -> ReservedAgent | None:
        for agent in self.free:
            if agent.key_id not in exclude:
                self.free.remove(agent)
                return agent
        return None

    async def release(self, agent: ReservedAgent, *, talked: bool) -> None:
        self.released.append((agent.key_id, talked))
        self.free.append(agent)


def after_hand_over(events: list[CallEvent]) -> list[CallEvent]:
    start = next(i for i, e in enumerate(events) if isinstance(e, TransferStarted))
    return events[start:]


async def test_hand_over_stops_the_prompt_and_bridges_the_agent_who_answers(h: Harness) -> None:
    desk = Desk(await h.agent(VIRTUAL_AGENT_TALK_S))
    transfer = Transfer(desk, group_id=7, wait_s=30 * h.scale)

    async def plan(call: Call, prompt: Prompt) -> None:
        call.say(prompt, interruptible=True)
        await pause(h, 1.0)
        call.hand_over(transfer)
        call.hand_over(transfer)  # once per call: a second one does nothing
        call.say(prompt, interruptible=False)  # plays nothing: only its PromptDone

    seen = await converse(h, plan)
    events = [e for e, _ in seen]
    end = assert_well_formed(events)
    answered = next(e for e in events if isinstance(e, Answered))
    done = [e for e in events if isinstance(e, PromptDone)]
    # the prompt stopped at the hand-over, a second into its four seconds
    stopped_after = seconds_between(answered, done[0])
    assert h.scale <= stopped_after <= 1.5 * h.scale + h.slack + h.lag, stopped_after
    assert len([e for e in events if isinstance(e, TransferStarted)]) == 1
    waited = after_hand_over(events)
    assert seconds_between(done[0], waited[0]) <= 0.1 * h.scale + h.slack
    kinds = [type(e) for e in waited if not isinstance(e, PromptDone)]
    assert kinds == [TransferStarted, AgentRinging, AgentAnswered, HungUp], waited
    # the callee is no longer heard once handed over
    assert not any(isinstance(e, (CalleeSpeaking, CalleeSaid, BargedIn)) for e in waited)
    took = next(e for e in events if isinstance(e, AgentAnswered))
    assert took.agent.name == "agent-1"
    assert (end.by, end.sip_code) == (HangupBy.AGENT, 200)
    talked = seconds_between(took, end)
    assert abs(talked - VIRTUAL_AGENT_TALK_S * h.scale) <= 0.5 * h.scale + h.slack + h.lag
    assert desk.released == [(1, True)]


async def test_hand_over_with_no_agent_free_hangs_up_after_the_wait(h: Harness) -> None:
    desk = Desk()
    transfer = Transfer(desk, group_id=7, wait_s=3 * h.scale)

    async def plan(call: Call, prompt: Prompt) -> None:
        call.hand_over(transfer)

    seen = await converse(h, plan)
    events = [e for e, _ in seen]
    end = assert_well_formed(events)
    waited = after_hand_over(events)
    assert [type(e) for e in waited] == [TransferStarted, HungUp], waited
    assert (end.by, end.sip_code, end.reason) == (HangupBy.US, 200, "no agent free")
    # measured: the callee really waited the group's time before the test saw the end
    assert abs(received_between(seen, TransferStarted, HungUp) - 3.0 * h.scale) <= (
        0.6 * h.scale + h.slack + h.lag
    )
    assert desk.released == []


async def test_hand_over_is_refused_on_a_call_that_is_no_conversation(h: Harness) -> None:
    call = await h.dial("answers", request_for(h))
    events: list[CallEvent] = []
    async for event in call.events():
        events.append(event)
        if isinstance(event, Answered):
            with pytest.raises(RuntimeError):
                call.hand_over(Transfer(NoDesk(), group_id=1))
            await call.hangup()
    assert not any(isinstance(e, TransferStarted) for e in events)
