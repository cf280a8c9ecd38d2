"""The sandbox carrier: simulated callees whose behaviour is decided by the number's last digit.

The table is a public contract (docs/sandbox.md); changing it is a breaking change. All times
come from the injected clock and are planned from the dial instant, so a call's record is the
same at any `--sandbox-speed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from voxcast.ports import (
    AgentSlot,
    Answered,
    CallEvent,
    Clock,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    PromptDone,
    Ringing,
    TransferStarted,
)
from voxcast.telephony.transfer import Ring, Search

RING_AFTER_S = 1.0  # the far end's 180 Ringing arrives this long after the INVITE
ANSWER_AFTER_RING_S = 2.0  # digits 0-3: answered after two seconds of ringing
SLOW_ANSWER_AFTER_RING_S = 10.0  # digit 9
KEY_AFTER_PROMPT_START_S = 1.0  # digits 1 and 2: the key arrives one second into the prompt
CALLEE_HANGS_UP_AFTER_S = 3.0  # digit 3
REJECT_AFTER_RING_S = 2.0  # digit 6
VIRTUAL_AGENT_ANSWER_S = 2.0  # a sandbox agent's phone rings this long before it answers
VIRTUAL_AGENT_TALK_S = 10.0  # ...and the agent talks this long, then hangs up


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


def plan(request: DialRequest, start: datetime) -> list[CallEvent]:
    """The whole life of a sandbox call as timed events, ending with exactly one HungUp."""
    o = outcome_for(request.callee)

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
    play_start = answer + request.delay_play_s
    play_end = play_start + request.loop_count * request.prompt.duration_s
    limit = answer + request.max_talk_s
    timed: list[tuple[float, CallEvent]] = []
    key_at: float | None = None
    if o.key is not None and request.collect_dtmf:
        key_at = play_start + min(KEY_AFTER_PROMPT_START_S, max(play_end - play_start, 0.0))
        timed.append((key_at, Dtmf(o.key, at(key_at))))
    handover = _transfer_at(request, o, answer, play_end, key_at)
    gone = None if o.hangs_up_after_s is None else answer + o.hangs_up_after_s
    if handover is not None and handover <= limit and (gone is None or handover < gone):
        if request.transfer is not None and request.transfer.mode == 1:
            timed.append((play_end, PromptDone(at(play_end))))
        events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= handover)
        events.append(TransferStarted(at(handover)))
        return events
    if o.hangs_up_after_s is not None:
        end, by, why = answer + o.hangs_up_after_s, HangupBy.CALLEE, "callee hung up"
    else:
        timed.append((play_end, PromptDone(at(play_end))))
        end, by, why = play_end + request.delay_hangup_s, HangupBy.US, "normal clearing"
    if end > limit:
        end, by, why = limit, HangupBy.US, "maximum call duration reached"
    events.extend(e for t, e in sorted(timed, key=lambda p: p[0]) if t <= end)
    events.append(HungUp(at(end), by, 200, why))
    return events


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
    o = outcome_for(request.callee)
    if o.hangs_up_after_s is None or o.answer_after_ring_s is None:
        return None
    return start + timedelta(seconds=RING_AFTER_S + o.answer_after_ring_s + o.hangs_up_after_s)


def virtual_agent_answers(slot: AgentSlot) -> bool:
    """Sandbox agents answer, except those whose job number (empNo) ends in 4."""
    return not (slot.emp_no or "").endswith("4")


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
        stop = asyncio.Event()
        gone = callee_gone_at(self._request, self._start)
        watchers = [asyncio.ensure_future(self._stop_when(stop, gone))]
        search = Search(transfer, self._clock, self._ring_virtual(stop), stop)
        try:
            async for event in search.run():
                yield event
            slot = search.answered
            if slot is None:
                self._done = True
                if self._hangup.is_set():
                    yield HungUp(self._clock.now(), HangupBy.US, 200, "hung up by us")
                elif gone is not None and self._clock.now() >= gone:
                    yield HungUp(gone, HangupBy.CALLEE, 200, "callee hung up while waiting")
                else:
                    yield HungUp(self._clock.now(), HangupBy.US, 200, "no agent free")
                return
            talk_end = search.answered_at + timedelta(
                seconds=min(VIRTUAL_AGENT_TALK_S, transfer.max_talk_s)
            )
            ends_by = HangupBy.AGENT
            if gone is not None and gone < talk_end:
                talk_end, ends_by = gone, HangupBy.CALLEE
            stop.clear()
            watchers.append(asyncio.ensure_future(self._stop_when(stop, talk_end)))
            await stop.wait()
            await transfer.desk.release(slot, talked=True)
            self._done = True
            if self._hangup.is_set() and self._clock.now() < talk_end:
                yield HungUp(self._clock.now(), HangupBy.US, 200, "hung up by us")
            else:
                reason = "agent hung up" if ends_by is HangupBy.AGENT else "callee hung up"
                yield HungUp(talk_end, ends_by, 200, reason)
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def _stop_when(self, stop: asyncio.Event, when: datetime | None) -> None:
        """Set `stop` at `when` (the callee or agent hangs up) or when we hang up."""
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self._hangup.wait())]
        if when is not None:
            waits.append(
                asyncio.ensure_future(
                    self._clock.sleep(max((when - self._clock.now()).total_seconds(), 0.0))
                )
            )
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        stop.set()

    def _ring_virtual(self, stop: asyncio.Event) -> Ring:
        async def ring(slot: AgentSlot) -> bool:
            answers = virtual_agent_answers(slot)
            seconds = VIRTUAL_AGENT_ANSWER_S if answers else slot.ring_timeout_s
            sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
            stopper = asyncio.ensure_future(stop.wait())
            done, pending = await asyncio.wait(
                {sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            return answers and sleeper in done

        return ring

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


class SandboxCarrier:
    """Dials simulated callees; see OUTCOMES and docs/sandbox.md."""

    #: transfers go to virtual agents: any enabled agent not busy, no softphone needed
    virtual_agents = True

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def dial(self, request: DialRequest) -> SandboxCall:
        return SandboxCall(request, self._clock)

    async def close(self) -> None:
        return None
