"""The dialer's own hold on a call's limits (voxcast.dialer.limits) against a far end that
ignores them: it is hung up at the limit of its phase and recorded as ending there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from voxcast.clock import ScaledClock
from voxcast.dialer.limits import CallLimits
from voxcast.domain.callresult import CallFacts
from voxcast.ports import Answered, CallEvent, DialRequest, HangupBy, HungUp, Prompt, Ringing

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Endless:
    """A far end that does what `script` says, then nothing more until we hang up."""

    def __init__(self, clock: ScaledClock, script: list[tuple[float, str]]) -> None:
        self.clock = clock
        self.script = script
        self.hung_up = asyncio.Event()
        self.answered = False

    async def events(self) -> AsyncIterator[CallEvent]:
        for after, what in self.script:
            await self.clock.sleep(after)
            if what == "ring":
                yield Ringing(self.clock.now())
            else:
                self.answered = True
                yield Answered(self.clock.now())
        await self.hung_up.wait()
        yield HungUp(self.clock.now(), HangupBy.US, 200 if self.answered else 487, "hung up")

    async def hangup(self) -> None:
        self.hung_up.set()


async def run(
    script: list[tuple[float, str]], max_ringing_s: int = 30
) -> tuple[CallFacts, datetime]:
    clock = ScaledClock(200.0, start=START)
    call = Endless(clock, script)
    request = DialRequest(
        "8613000000000", None, Prompt("p", 4.0), max_ringing_s=max_ringing_s, max_talk_s=7
    )
    dialed = clock.now()
    limits = CallLimits(clock, call, request, dialed)
    facts = CallFacts(call_time=dialed)
    try:
        async with asyncio.timeout(5):
            async for event in call.events():
                limits.seen(event)
                facts.apply(event)
    finally:
        await limits.aclose()
    limits.settle(facts)
    return facts, dialed


async def test_a_far_end_that_never_rings_is_a_408_ten_seconds_past_max_ringing() -> None:
    facts, dialed = await run([])
    assert facts.hangup_time == dialed + timedelta(seconds=40)
    assert (facts.sip_code, facts.hangup_by, facts.ring_duration) == (408, HangupBy.NETWORK, 0)


async def test_ringing_past_max_ringing_is_480_at_the_limit() -> None:
    facts, _dialed = await run([(1.0, "ring")])
    assert facts.ringing_time is not None
    assert facts.hangup_time == facts.ringing_time + timedelta(seconds=30)
    assert (facts.sip_code, facts.hangup_by, facts.reason) == (480, HangupBy.US, "no answer")
    assert (facts.ring_duration, facts.call_duration) == (30, 0)


async def test_talking_past_max_talk_ends_at_the_limit() -> None:
    facts, _dialed = await run([(1.0, "ring"), (2.0, "answer")])
    assert facts.answer_time is not None
    assert facts.hangup_time == facts.answer_time + timedelta(seconds=7)
    assert (facts.sip_code, facts.hangup_by, facts.call_duration) == (200, HangupBy.US, 7)


async def test_a_talk_limit_later_than_the_ring_limit_it_replaces_still_holds() -> None:
    """Answered 1 s before the ring limit: the watcher, asleep until then, must sleep on to
    the talk limit rather than cut the call at the ring limit."""
    facts, _dialed = await run([(1.0, "ring"), (2.0, "answer")], max_ringing_s=3)
    assert facts.answer_time is not None
    assert facts.hangup_time == facts.answer_time + timedelta(seconds=7)
    assert (facts.sip_code, facts.hangup_by, facts.call_duration) == (200, HangupBy.US, 7)
