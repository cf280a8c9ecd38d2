"""The Carrier contract: every carrier (sandbox now, SIP next) must pass these same tests.

A harness gives a carrier and, for each behaviour the contract names, a number that makes the
far end behave that way (the sandbox's last-digit table; SIPp scenarios for the SIP carrier).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from voxcast.clock import ScaledClock
from voxcast.ports import (
    Answered,
    CallEvent,
    Carrier,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    Ringing,
)
from voxcast.telephony.sandbox import SandboxCarrier

SPEED = 200.0


@dataclass
class Harness:
    carrier: Carrier
    numbers: dict[str, str]  # behaviour -> number


@pytest.fixture(params=["sandbox"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    clock = ScaledClock(SPEED)
    carrier = SandboxCarrier(clock)
    yield Harness(
        carrier,
        {
            "answers": "8613000000000",
            "presses_1": "8613000000001",
            "hangs_up_after_3s": "8613000000003",
            "no_answer": "8613000000004",
            "busy": "8613000000005",
            "not_found": "8613000000007",
        },
    )
    await carrier.close()


def request_for(number: str, **kw: object) -> DialRequest:
    base: dict[str, object] = {
        "callee": number,
        "caller_id": "1008122211",
        "prompt": Prompt("test-prompt", 4.0),
        "max_ringing_s": 30,
        "max_talk_s": 60,
    }
    base.update(kw)
    return DialRequest(**base)  # type: ignore[arg-type]


async def collect(carrier: Carrier, req: DialRequest) -> list[CallEvent]:
    call = await carrier.dial(req)
    return [e async for e in call.events()]


def assert_well_formed(events: list[CallEvent]) -> HungUp:
    hangups = [e for e in events if isinstance(e, HungUp)]
    assert len(hangups) == 1, events
    assert events[-1] is hangups[0]
    times = [e.at for e in events]
    assert times == sorted(times)
    return hangups[0]


async def test_answered_call_rings_answers_plays_and_ends_with_one_hangup(harness: Harness) -> None:
    events = await collect(harness.carrier, request_for(harness.numbers["answers"], loop_count=2))
    end = assert_well_formed(events)
    kinds = [type(e) for e in events]
    assert kinds.index(Ringing) < kinds.index(Answered) < kinds.index(PromptDone)
    answered = next(e for e in events if isinstance(e, Answered))
    assert end.sip_code == 200
    talk = (end.at - answered.at).total_seconds()
    assert 8.0 <= talk <= 9.0  # two loops of a 4 s prompt


async def test_key_press_is_reported_as_dtmf(harness: Harness) -> None:
    events = await collect(harness.carrier, request_for(harness.numbers["presses_1"]))
    assert_well_formed(events)
    assert [e.digit for e in events if isinstance(e, Dtmf)] == ["1"]


async def test_callee_hang_up_is_reported_as_by_callee(harness: Harness) -> None:
    events = await collect(harness.carrier, request_for(harness.numbers["hangs_up_after_3s"]))
    end = assert_well_formed(events)
    assert end.by is HangupBy.CALLEE
    answered = next(e for e in events if isinstance(e, Answered))
    assert abs((end.at - answered.at).total_seconds() - 3.0) < 0.5


async def test_unanswered_call_ends_when_max_ringing_runs_out(harness: Harness) -> None:
    events = await collect(
        harness.carrier, request_for(harness.numbers["no_answer"], max_ringing_s=20)
    )
    end = assert_well_formed(events)
    assert not any(isinstance(e, Answered) for e in events)
    ringing = next(e for e in events if isinstance(e, Ringing))
    assert end.sip_code in (480, 487)
    assert abs((end.at - ringing.at).total_seconds() - 20.0) < 1.5


async def test_max_talk_time_forces_hang_up(harness: Harness) -> None:
    events = await collect(
        harness.carrier, request_for(harness.numbers["answers"], loop_count=9, max_talk_s=5)
    )
    end = assert_well_formed(events)
    answered = next(e for e in events if isinstance(e, Answered))
    assert end.by is HangupBy.US
    assert abs((end.at - answered.at).total_seconds() - 5.0) < 0.5


@pytest.mark.parametrize(("behaviour", "code"), [("busy", 486), ("not_found", 404)])
async def test_failed_calls_report_the_sip_code(
    harness: Harness, behaviour: str, code: int
) -> None:
    events = await collect(harness.carrier, request_for(harness.numbers[behaviour]))
    end = assert_well_formed(events)
    assert end.sip_code == code
    assert not any(isinstance(e, Answered) for e in events)


async def test_hangup_while_ringing_ends_the_call_once(harness: Harness) -> None:
    call = await harness.carrier.dial(request_for(harness.numbers["no_answer"]))
    events: list[CallEvent] = []
    async for event in call.events():
        events.append(event)
        if isinstance(event, Ringing):
            await call.hangup()
    end = assert_well_formed(events)
    assert end.by is HangupBy.US
    await call.hangup()  # a second hang-up is harmless
