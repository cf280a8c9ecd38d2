"""The sandbox's last-digit table, checked digit by digit on the pure call plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voxcast.ports import Answered, DialRequest, Dtmf, HungUp, Prompt, Ringing
from voxcast.telephony.sandbox import plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(digit: str, **kw: object) -> list[object]:
    req = DialRequest(callee=f"861300000000{digit}", caller_id=None, prompt=Prompt("p", 6.0), **kw)  # type: ignore[arg-type]
    return list(plan(req, T0))


def secs(event: object) -> float:
    return (event.at - T0).total_seconds()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("digit", "sip", "answered", "key"),
    [
        ("0", 200, True, None),
        ("1", 200, True, "1"),
        ("2", 200, True, "2"),
        ("3", 200, True, None),
        ("4", 480, False, None),
        ("5", 486, False, None),
        ("6", 603, False, None),
        ("7", 404, False, None),
        ("8", 503, False, None),
        ("9", 200, True, None),
    ],
)
def test_last_digit_decides_the_outcome(
    digit: str, sip: int, answered: bool, key: str | None
) -> None:
    events = run(digit)
    end = events[-1]
    assert isinstance(end, HungUp)
    assert end.sip_code == sip
    assert any(isinstance(e, Answered) for e in events) is answered
    assert [e.digit for e in events if isinstance(e, Dtmf)] == ([key] if key else [])


def test_digit_9_answers_after_ten_seconds_of_ringing() -> None:
    events = run("9")
    ringing = next(e for e in events if isinstance(e, Ringing))
    answered = next(e for e in events if isinstance(e, Answered))
    assert secs(answered) - secs(ringing) == 10.0


def test_digit_3_hangs_up_three_seconds_after_answer() -> None:
    events = run("3")
    answered = next(e for e in events if isinstance(e, Answered))
    assert secs(events[-1]) - secs(answered) == 3.0


def test_delay_play_loops_and_delay_hangup_add_up_to_the_talk_time() -> None:
    events = run("0", loop_count=3, delay_play_s=2, delay_hangup_s=1, max_talk_s=999)
    answered = next(e for e in events if isinstance(e, Answered))
    assert secs(events[-1]) - secs(answered) == 2 + 3 * 6.0 + 1


def test_no_answer_rings_for_max_ringing_time() -> None:
    events = run("4", max_ringing_s=25)
    ringing = next(e for e in events if isinstance(e, Ringing))
    assert secs(events[-1]) - secs(ringing) == 25.0


def amd_run(number: str, **kw: object) -> list[object]:
    from voxcast.domain.amd import AmdSettings

    req = DialRequest(  # type: ignore[arg-type]
        callee=number, caller_id=None, prompt=Prompt("p", 6.0), amd=AmdSettings(), **kw
    )
    return list(plan(req, T0))


@pytest.mark.parametrize("last", ["0", "1", "4", "5", "8"])
def test_second_to_last_9_is_a_machine_only_with_amd(last: str) -> None:
    from voxcast.ports import AmdDecided

    number = f"86130000009{last}"
    without = list(plan(DialRequest(callee=number, caller_id=None, prompt=Prompt("p", 6.0)), T0))
    assert without == run(last)  # the last digit's table, unchanged
    events = amd_run(number)
    [decided] = [e for e in events if isinstance(e, AmdDecided)]
    assert decided.result.verdict.value == "MACHINE"
    assert not any(isinstance(e, Dtmf) for e in events)  # a machine presses no key
    end = events[-1]
    assert isinstance(end, HungUp) and end.reason == "answering machine"
    assert end.at == decided.at


def test_a_machine_hung_up_on_after_max_talk_ends_at_the_limit() -> None:
    events = amd_run("8613000000090", max_talk_s=1)
    answered = next(e for e in events if isinstance(e, Answered))
    end = events[-1]
    assert isinstance(end, HungUp) and end.reason == "maximum call duration reached"
    assert secs(end) - secs(answered) == 1.0
