"""The endpoint's timers: each call is ticked when its own deadline comes, from a schedule,
instead of every call's deadline being read every 20 ms (at 4,000 calls that scan alone took
about a core). Scripted parties count how often they are asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from voxcast.telephony.sip.aio.transport import TICK_SECONDS, SipEndpoint
from voxcast.telephony.sip.core.message import Message


class Scripted:
    """A call with timers at the given loop times; finished once they have all fired."""

    def __init__(self, call_id: str, at: Sequence[float]) -> None:
        self.call_id = call_id
        self.pending = sorted(at)
        self.ticked: list[float] = []
        self.asked = 0
        self.ended = False

    @property
    def deadline(self) -> float | None:
        self.asked += 1
        return self.pending[0] if self.pending else None

    @property
    def finished(self) -> bool:
        return self.ended or not self.pending

    def start(self, now: float) -> Sequence[object]:
        return []

    def receive(self, message: Message, now: float) -> Sequence[object]:
        return []

    def tick(self, now: float) -> Sequence[object]:
        while self.pending and self.pending[0] <= now:
            self.ticked.append(now)
            self.pending.pop(0)
        return []

    def hangup(self, now: float, reason: str = "") -> Sequence[object]:
        self.pending.insert(0, now + 0.1)  # a BYE's retransmission timer, sooner than the rest
        return []

    def unreachable(self, now: float) -> Sequence[object]:
        return []


async def test_idle_calls_are_not_scanned_each_tick_and_due_ones_fire_on_time() -> None:
    loop = asyncio.get_running_loop()
    endpoint = await SipEndpoint.open("127.0.0.1", 0, loop.time)
    try:
        idle = [Scripted(f"idle{i}", [loop.time() + 60]) for i in range(2000)]
        for party in idle:
            endpoint.place(party, ("127.0.0.1", 9), lambda _: None)
        now = loop.time()
        soon = Scripted("soon", [now + 0.2, now + 0.4])
        endpoint.place(soon, ("127.0.0.1", 9), lambda _: None)
        await asyncio.sleep(0.6)
        # the due call fired at its times, in order (a tick late, plus a loaded machine's slack)
        assert len(soon.ticked) == 2
        for fired, planned in zip(soon.ticked, (now + 0.2, now + 0.4), strict=True):
            assert planned <= fired < planned + TICK_SECONDS + 0.3
        # and the 2,000 waiting calls were asked for their deadline when placed, not 30 times
        assert max(p.asked for p in idle) <= 2
        # finished calls leave the endpoint; the others stay
        assert endpoint.calls == 2000
        asked = sum(p.asked for p in idle)
        await asyncio.sleep(0.3)
        assert sum(p.asked for p in idle) - asked <= 2000  # the once-a-second safety net
    finally:
        await endpoint.close()


async def test_an_input_that_moves_a_deadline_earlier_is_scheduled() -> None:
    loop = asyncio.get_running_loop()
    endpoint = await SipEndpoint.open("127.0.0.1", 0, loop.time)
    try:
        party = Scripted("c", [loop.time() + 60])
        endpoint.place(party, ("127.0.0.1", 9), lambda _: None)
        await asyncio.sleep(0.05)
        hung_up_at = loop.time()
        endpoint.hangup("c")  # through the endpoint: a timer 0.1 s away
        await asyncio.sleep(0.3)
        assert len(party.ticked) == 1 and party.ticked[0] - hung_up_at < 0.3
        # driven directly (as an inbound call's session does) and then touched
        moved_at = loop.time()
        party.hangup(moved_at)
        endpoint.touch("c")
        await asyncio.sleep(0.3)
        assert len(party.ticked) == 2 and party.ticked[1] - moved_at < 0.3
        party.ended, party.pending = True, []
        endpoint.touch("c")
        await asyncio.sleep(0.1)
        assert endpoint.calls == 0
    finally:
        await endpoint.close()


class Held(Scripted):
    """A call in progress with no timer running (answered, playing): it moves on an input
    only; counts how often it is asked whether it is finished."""

    def __init__(self, call_id: str) -> None:
        super().__init__(call_id, [])
        self.asked_finished = 0

    @property
    def finished(self) -> bool:
        self.asked_finished += 1
        return self.ended

    def hangup(self, now: float, reason: str = "") -> Sequence[object]:
        self.ended = True  # e.g. its BYE answered: nothing left to wait for
        return []


async def test_held_calls_are_not_polled_each_tick_and_leave_on_the_input_that_ends_them() -> None:
    loop = asyncio.get_running_loop()
    endpoint = await SipEndpoint.open("127.0.0.1", 0, loop.time)
    try:
        held = [Held(f"held{i}") for i in range(2000)]
        for party in held:
            endpoint.place(party, ("127.0.0.1", 9), lambda _: None)
        asked = sum(p.asked_finished for p in held)
        await asyncio.sleep(0.5)
        # 25 ticks: polling would be 50,000 questions; the safety net reads each call at
        # most once a second, a share of them each tick
        assert sum(p.asked_finished for p in held) - asked <= 2000
        assert max(p.asked_finished for p in held) <= 3
        endpoint.hangup("held7")
        assert endpoint.calls == 1999  # at once, not at a later tick
    finally:
        await endpoint.close()
