"""The sandbox carrier: simulated callees whose behaviour is decided by the number's last digit.

The table is a public contract (docs/sandbox.md); changing it is a breaking change. All times
come from the injected clock and are planned from the dial instant, so a call's record is the
same at any `--sandbox-speed`. With answering-machine detection on, a second-to-last digit 9
means a machine answers (a greeting, then a beep); the callee's voice, a person's "Hello?" or
the machine's greeting, goes through the real detector, which decides verdict and timing.
A callee pressing the request's opt-out key hears its confirmation, then is hung up on.
"""

from __future__ import annotations

import asyncio
import functools
import math
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from voxcast.audio import g711
from voxcast.audio.cache import PromptCache
from voxcast.audio.pcm import resample_pcm
from voxcast.audio.tts import espeak_command
from voxcast.domain.amd import AmdResult, AmdSettings, GreetingOver, Verdict
from voxcast.ports import (
    OPTED_OUT,
    AmdDecided,
    Answered,
    CallEvent,
    Clock,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    ReservedAgent,
    Ringing,
    Transfer,
    TransferStarted,
)
from voxcast.telephony import sandbox_talk
from voxcast.telephony.sandbox_agents import (
    VIRTUAL_AGENT_ANSWER_S,
    VIRTUAL_AGENT_TALK_S,
    WaitForAgent,
    virtual_agent_answers,
)
from voxcast.telephony.sandbox_talk import TalkingCall

RING_AFTER_S = 1.0  # the far end's 180 Ringing arrives this long after the INVITE
ANSWER_AFTER_RING_S = 2.0  # digits 0-3: answered after two seconds of ringing
SLOW_ANSWER_AFTER_RING_S = 10.0  # digit 9
KEY_AFTER_PROMPT_START_S = 1.0  # digits 1 and 2: the key arrives one second into the prompt
CALLEE_HANGS_UP_AFTER_S = 3.0  # digit 3
REJECT_AFTER_RING_S = 2.0  # digit 6
#: with AMD on, a second-to-last digit 9: an answering machine answers (after digit 0's ring)
MACHINE_DIGIT = "9"
#: what the simulated callee says when it answers (espeak-ng, through G.711)
PERSON_SAYS = "Hello?"
MACHINE_SAYS = (
    "Hi, you've reached Anna. I can't take your call right now, "
    "please leave a message after the tone."
)
BEEP_HZ, BEEP_S = 1000.0, 0.4
#: a voicemail drop's message waits at most this long after a MACHINE verdict (as SIP's)
GREETING_WAIT_S = 21.0


@dataclass(frozen=True)
class Outcome:
    """What the simulated callee does."""

    answer_after_ring_s: float | None  # None: never answers
    key: str | None = None
    hangs_up_after_s: float | None = None
    final_code: int | None = None  # a failure final response
    final_after_s: float = 0.0
    rings: bool = True
    reason: str = ""


OUTCOMES: dict[str, Outcome] = {
    "0": Outcome(ANSWER_AFTER_RING_S),
    "1": Outcome(ANSWER_AFTER_RING_S, key="1"),
    "2": Outcome(ANSWER_AFTER_RING_S, key="2"),
    "3": Outcome(ANSWER_AFTER_RING_S, hangs_up_after_s=CALLEE_HANGS_UP_AFTER_S),
    "4": Outcome(None, reason="no answer"),
    "5": Outcome(None, final_code=486, final_after_s=RING_AFTER_S, rings=False, reason="busy"),
    "6": Outcome(
        None, final_code=603, final_after_s=RING_AFTER_S + REJECT_AFTER_RING_S, reason="rejected"
    ),
    "7": Outcome(None, final_code=404, final_after_s=0.5, rings=False, reason="not found"),
    "8": Outcome(None, final_code=503, final_after_s=0.5, rings=False, reason="network failure"),
    "9": Outcome(SLOW_ANSWER_AFTER_RING_S),
}


def outcome_for(number: str) -> Outcome:
    return OUTCOMES.get(number[-1:], OUTCOMES["0"])


def machine_answers(request: DialRequest) -> bool:
    """Digit rule for AMD: with detection on, a second-to-last digit 9 is a machine."""
    return request.amd is not None and request.callee[-2:-1] == MACHINE_DIGIT


def _silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(8000 * seconds)


@functools.lru_cache(maxsize=2)
def callee_voice(machine: bool) -> bytes:
    """The simulated callee's side from the answer on, as µ-law: a person's "Hello?" and then
    waiting, or a machine's greeting, its beep and the quiet while it records."""
    speech = espeak_command(MACHINE_SAYS if machine else PERSON_SAYS, "en-us", 170)
    said = resample_pcm(speech.pcm, speech.sample_rate)
    if machine:
        beep = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * BEEP_HZ * i / 8000)))
            for i in range(int(8000 * BEEP_S))
        )
        pcm = _silence(0.3) + said + _silence(0.5) + beep + _silence(GREETING_WAIT_S)
    else:
        pcm = _silence(0.4) + said + _silence(10.0)
    return g711.ulaw_encode(pcm)


@functools.lru_cache(maxsize=32)
def heard(
    settings: AmdSettings, machine: bool, greeting_end: bool
) -> tuple[AmdResult, GreetingOver | None]:
    """What the detector concludes of the simulated callee, fed 20 ms packets as a call's
    RTP would feed it: the verdict (with its time from the answer), and the greeting's end."""
    from voxcast.audio.hearing.machine import listener  # the VAD: only when AMD is asked for

    ear = listener(settings, 0, greeting_end=greeting_end)
    audio = callee_voice(machine)
    try:
        for start in range(0, len(audio), 160):
            ear.feed(audio[start : start + 160])
            if ear.done:
                break
    finally:
        ear.close()
    result = ear.result
    if result is None:  # the audio ran out first: as the SIP carrier's clock would say
        ms = settings.total_analysis_time
        result = AmdResult(Verdict.NOTSURE, f"TOOLONG-{ms}", ms)
    return result, ear.greeting_over


def plan(request: DialRequest, start: datetime) -> list[CallEvent]:
    """The whole life of a sandbox call as timed events, ending with exactly one HungUp."""
    machine = machine_answers(request)
    o = OUTCOMES["0"] if machine else outcome_for(request.callee)

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    if o.final_code is not None:
        events: list[CallEvent] = [Ringing(at(RING_AFTER_S))] if o.rings else []
        events.append(
            HungUp(
                at(o.final_after_s),
                HangupBy.CALLEE if o.final_code in (486, 603) else HangupBy.NETWORK,
                o.final_code,
                o.reason,
            )
        )
        return events
    events = [Ringing(at(RING_AFTER_S))]
    if o.answer_after_ring_s is None or o.answer_after_ring_s > request.max_ringing_s:
        events.append(
            HungUp(at(RING_AFTER_S + request.max_ringing_s), HangupBy.US, 480, "no answer")
        )
        return events
    answer = RING_AFTER_S + o.answer_after_ring_s
    events.append(Answered(at(answer)))
    if request.bridge is not None:
        events.append(_bridged_end(request, o, answer, at))
        return events
    play_start = answer + request.delay_play_s
    loops = request.loop_count
    limit = answer + request.max_talk_s
    timed: list[tuple[float, CallEvent]] = []
    hung_up_on_machine: float | None = None
    voicemail = False
    if request.amd is not None:
        result, over = heard(request.amd, machine, request.voicemail_drop)
        decided = answer + result.at_ms / 1000
        timed.append((decided, AmdDecided(result, at(decided))))
        if not request.voicemail_drop:
            if result.verdict is Verdict.MACHINE:
                hung_up_on_machine = decided
        elif result.verdict is Verdict.MACHINE:
            # the message once, from the beep (or the longest wait), then the end
            voicemail, loops = True, 1
            play_start = answer + over.at_ms / 1000 if over else decided + GREETING_WAIT_S
        else:
            play_start = decided + request.delay_play_s
    play_end = play_start + loops * request.prompt.duration_s
    key_at: float | None = None
    if o.key is not None and request.collect_dtmf:
        key_at = play_start + min(KEY_AFTER_PROMPT_START_S, max(play_end - play_start, 0.0))
        timed.append((key_at, Dtmf(o.key, at(key_at))))
    opt_out = request.opt_out
    if opt_out is not None and key_at is not None and key_at <= limit and o.key == opt_out.key:
        # the prompt stops at the key, the confirmation plays once, then we hang up: no
        # transfer, whatever its key
        end, why = key_at + opt_out.confirmation.duration_s, OPTED_OUT
        if end > limit:
            end, why = limit, "maximum call duration reached"
        events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= end)
        events.append(HungUp(at(end), HangupBy.US, 200, why))
        return events
    handover = None if voicemail else _transfer_at(request, o, answer, play_end, key_at)
    gone = None if o.hangs_up_after_s is None else answer + o.hangs_up_after_s
    if hung_up_on_machine is not None and (handover is None or hung_up_on_machine <= handover):
        handover = None
        timed.append((play_end, PromptDone(at(play_end))))
        end, by, why = hung_up_on_machine, HangupBy.US, "answering machine"
        if end > limit:
            end, why = limit, "maximum call duration reached"
        events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= end)
        events.append(HungUp(at(end), by, 200, why))
        return events
    if handover is not None and handover <= limit and (gone is None or handover < gone):
        if request.transfer is not None and request.transfer.mode == 1:
            timed.append((play_end, PromptDone(at(play_end))))
        events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= handover)
        events.append(TransferStarted(at(handover)))
        return events
    if o.hangs_up_after_s is not None:
        end, by, why = answer + o.hangs_up_after_s, HangupBy.CALLEE, "callee hung up"
    elif voicemail:
        timed.append((play_end, PromptDone(at(play_end))))
        end, by, why = play_end, HangupBy.US, "voicemail left"
    else:
        timed.append((play_end, PromptDone(at(play_end))))
        end, by, why = play_end + request.delay_hangup_s, HangupBy.US, "normal clearing"
    if end > limit:
        end, by, why = limit, HangupBy.US, "maximum call duration reached"
    events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= end)
    events.append(HungUp(at(end), by, 200, why))
    return events


def _bridged_end(
    request: DialRequest, o: Outcome, answer: float, at: Callable[[float], datetime]
) -> HungUp:
    """A click-to-call's callee talks with the caller's virtual phone, which hangs up after
    VIRTUAL_AGENT_TALK_S, unless the callee hangs up first (digit 3) or the talk cap ends it."""
    ends = [(answer + VIRTUAL_AGENT_TALK_S, HangupBy.AGENT, "phone hung up")]
    if o.hangs_up_after_s is not None:
        ends.append((answer + o.hangs_up_after_s, HangupBy.CALLEE, "callee hung up"))
    ends.append((answer + request.max_talk_s, HangupBy.US, "maximum call duration reached"))
    end, by, why = min(ends, key=lambda e: e[0])
    return HungUp(at(end), by, 200, why)


def _transfer_at(
    request: DialRequest, o: Outcome, answer: float, play_end: float, key_at: float | None
) -> float | None:
    """When an answered callee is handed to an agent (None: never, the call ends as usual)."""
    transfer = request.transfer
    if transfer is None:
        return None
    if transfer.mode == 1:
        return play_end
    if key_at is not None and o.key == transfer.key:
        return max(key_at, answer + transfer.delay_s)
    return None


def callee_gone_at(request: DialRequest, start: datetime) -> datetime | None:
    """When the simulated callee hangs up by itself (digit 3), if it does."""
    if machine_answers(request):
        return None
    o = outcome_for(request.callee)
    if o.hangs_up_after_s is None or o.answer_after_ring_s is None:
        return None
    return start + timedelta(seconds=RING_AFTER_S + o.answer_after_ring_s + o.hangs_up_after_s)


class SandboxCall:
    """A simulated call: replays its plan at the clock's pace; `hangup()` cuts it short."""

    def __init__(self, request: DialRequest, clock: Clock) -> None:
        self._clock = clock
        self._request = request
        self._start = clock.now()
        self._plan = plan(request, self._start)
        self._hangup = asyncio.Event()
        self._answered = False
        self._done = False

    async def events(self) -> AsyncIterator[CallEvent]:
        for event in self._plan:
            if self._done:
                return
            wait = (event.at - self._clock.now()).total_seconds()
            if wait > 0 and await self._wait_or_hangup(wait):
                self._done = True
                code = 200 if self._answered else 487
                yield HungUp(self._clock.now(), HangupBy.US, code, "hung up by us")
                return
            if isinstance(event, Answered):
                self._answered = True
            if isinstance(event, HungUp):
                self._done = True
            yield event
            if isinstance(event, TransferStarted):
                async for later in self._transfer():
                    yield later
                return

    async def _transfer(self) -> AsyncIterator[CallEvent]:
        """The callee waits for an agent; a virtual agent answers and talks, or nobody does."""
        transfer = self._request.transfer
        assert transfer is not None
        gone = callee_gone_at(self._request, self._start)
        async for event in WaitForAgent(transfer, self._clock, self._hangup, gone).run():
            if isinstance(event, HungUp):
                self._done = True
            yield event

    async def _wait_or_hangup(self, seconds: float) -> bool:
        """Sleep on the clock; True if `hangup()` came first."""
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._hangup.wait())
        done, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return stopper in done

    async def hangup(self) -> None:
        self._hangup.set()

    # a conversation call the callee answers is a `TalkingCall`; this one never talks (as the
    # SIP carrier, saying anything on it is the caller's mistake)
    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        raise RuntimeError("say() is for answered conversation calls")

    def hush(self) -> None:
        raise RuntimeError("hush() is for answered conversation calls")

    def hand_over(self, transfer: Transfer) -> None:
        raise RuntimeError("hand_over() is for answered conversation calls")


class VirtualPhone:
    """A sandbox agent's phone rung for a click-to-call: it answers after
    VIRTUAL_AGENT_ANSWER_S, except an agent whose job number ends in 4, which rings out."""

    def __init__(self, phone: ReservedAgent, clock: Clock) -> None:
        self._phone = phone
        self._clock = clock
        self._closed = asyncio.Event()
        self.sip_code = 200 if virtual_agent_answers(phone) else 480

    async def answered(self) -> bool:
        answers = self.sip_code == 200
        seconds = VIRTUAL_AGENT_ANSWER_S if answers else self._phone.ring_timeout_s
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        closer = asyncio.ensure_future(self._closed.wait())
        done, pending = await asyncio.wait({sleeper, closer}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return answers and sleeper in done

    def close(self) -> None:
        self._closed.set()


class SandboxCarrier:
    """Dials simulated callees; see OUTCOMES and docs/sandbox.md."""

    #: transfers go to virtual agents: any enabled agent not busy, no softphone needed
    virtual_agents = True

    def __init__(self, clock: Clock, data_dir: Path | None = None) -> None:
        self._clock = clock
        #: where recorded conversation calls go, and the robot's prompts they are made of
        self._recordings = (
            (data_dir / "recordings", PromptCache.under(data_dir)) if data_dir else None
        )

    async def dial(self, request: DialRequest) -> SandboxCall | TalkingCall:
        if request.conversation is not None:
            planned = plan(request, self._clock.now())
            answer = next((e for e in planned if isinstance(e, Answered)), None)
            if answer is not None:
                if request.amd is not None:
                    await asyncio.to_thread(heard, request.amd, machine_answers(request), False)
                await sandbox_talk.prepare(request)
                # planned again: the preparation took time on the call's clock
                planned = plan(request, self._clock.now())
                answer = next(e for e in planned if isinstance(e, Answered))
                return TalkingCall(
                    request,
                    self._clock,
                    sandbox_talk.amd_events(planned),
                    answer.at,
                    self._recordings,
                )
        if request.amd is not None:
            # the callee's voice is synthesised and judged once per process (cached): off the
            # event loop, so a first AMD call does not stall every other call meanwhile
            await asyncio.to_thread(
                heard, request.amd, machine_answers(request), request.voicemail_drop
            )
        return SandboxCall(request, self._clock)

    async def ring_phone(self, phone: ReservedAgent, caller: str) -> VirtualPhone:
        return VirtualPhone(phone, self._clock)

    async def close(self) -> None:
        return None
