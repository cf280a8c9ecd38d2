"""A trunk's own limits (`--max-channels`, `--max-cps`): calls through one SipCarrier hold a
channel from placing to hang-up and are placed at most max-cps a second; a call given up while
waiting for its turn gives its channel back. The far end is left out: placing a call here just
notes the time, and the call ends after a set hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from voxcast.clock import FixedClock
from voxcast.ports import DialRequest, HangupBy, HungUp, Prompt
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier, TrunkConfig

#: asyncio timers may fire a clock tick early; spacing is checked to this
SLACK_S = 0.005


class Trace:
    def __init__(self) -> None:
        self.placed: list[float] = []
        self.live = 0
        self.peak = 0


class HeldCall(SipCall):
    """A call whose far end answers at once and hangs up after `hold` seconds."""

    hold = 0.0
    trace = Trace()

    async def _place(self) -> None:
        loop = asyncio.get_running_loop()
        trace = self.trace
        trace.placed.append(loop.time())
        trace.live += 1
        trace.peak = max(trace.peak, trace.live)

        def end() -> None:
            trace.live -= 1
            self._emit_end(200, HangupBy.CALLEE, "normal clearing")

        loop.call_later(self.hold, end)


def carrier(**limits: float) -> SipCarrier:
    trunk = TrunkConfig(name="t", host="127.0.0.1", port=5060, **limits)  # type: ignore[arg-type]
    return SipCarrier(trunk, FixedClock(datetime(2026, 3, 2, tzinfo=UTC)), None, None)  # type: ignore[arg-type]


async def run_calls(sip: SipCarrier, count: int, hold: float) -> Trace:
    trace = Trace()

    class Call(HeldCall):
        pass

    Call.hold, Call.trace = hold, trace
    request = DialRequest(callee="8613000000000", caller_id=None, prompt=Prompt("p", 1.0))

    async def one() -> None:
        events = [e async for e in Call(sip, request).events()]
        assert isinstance(events[-1], HungUp) and events[-1].sip_code == 200

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), timeout=5)
    return trace


async def test_no_more_calls_up_at_once_than_the_trunks_channels() -> None:
    sip = carrier(max_channels=2)
    trace = await run_calls(sip, 5, hold=0.1)
    assert len(trace.placed) == 5
    assert trace.peak == 2
    # three waves of at most two calls, each up 0.1 s
    assert trace.placed[-1] - trace.placed[0] >= 0.2 - SLACK_S
    assert sip.in_progress == 0


async def test_calls_are_placed_at_most_max_cps_a_second() -> None:
    sip = carrier(max_cps=10)
    trace = await run_calls(sip, 5, hold=0.0)
    gaps = [b - a for a, b in zip(trace.placed, trace.placed[1:], strict=False)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.1 - SLACK_S, gaps


async def test_a_trunk_without_limits_places_every_call_at_once() -> None:
    trace = await run_calls(carrier(), 5, hold=0.1)
    assert trace.peak == 5
    assert trace.placed[-1] - trace.placed[0] < 0.05


async def test_a_call_given_up_while_waiting_for_its_turn_frees_its_channel() -> None:
    sip = carrier(max_channels=2, max_cps=2)  # one call every 0.5 s
    limiter = sip.limiter
    await limiter.acquire()  # the first call: placed at once
    waiting = asyncio.create_task(limiter.acquire())  # holds the second channel, waits 0.5 s
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    limiter.release()
    # both channels are free again: two more calls get them (a leak would block the second)
    await asyncio.wait_for(limiter.acquire(), timeout=2)
    await asyncio.wait_for(limiter.acquire(), timeout=2)
