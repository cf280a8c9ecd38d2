"""The AiVoice task rules (domain.aivoice_tasks): resultStatus of a call, the daily windows,
the wire statuses of a task and of a number, and the customer kept on a callee row."""

from __future__ import annotations

from datetime import time

import pytest

from voxcast.domain import aivoice_tasks as ai
from voxcast.domain.enums import CalleeState
from voxcast.domain.enums import TaskStatus as St
from voxcast.domain.schedule import Window


@pytest.mark.parametrize(
    ("answered", "sip", "expected"),
    [
        (True, 200, "ANSWERED"),
        (False, 480, "NO_ANSWER"),
        (False, 408, "NO_ANSWER"),
        (False, 487, "NO_ANSWER"),
        (False, 486, "BUSY"),
        (False, 600, "BUSY"),
        (False, 603, "REFUSED"),
        (False, 403, "REFUSED"),
        (False, 404, "VACANT_NUMBER"),
        (False, 484, "VACANT_NUMBER"),
        (False, 410, "OUT_OF_SERVICE"),
        (False, 402, "FROM_PHONE_ERROR"),
        (False, 500, "SYSTEM_ERROR"),
        (False, 0, "SYSTEM_ERROR"),
        (False, 503, "CAN_NOT_CONNECT"),
        (False, 488, "CAN_NOT_CONNECT"),
    ],
)
def test_result_status_of_an_outcome(answered: bool, sip: int, expected: str) -> None:
    assert ai.result_status(answered, sip) == expected
    assert expected in ai.RESULT_STATUSES


def test_a_calls_result_is_the_robots_verdict_when_it_gave_one() -> None:
    assert ai.call_result(True, 200, None) == "ANSWERED"
    assert ai.call_result(False, 486, {"result_status": None}) == "BUSY"
    assert ai.call_result(True, 200, {"result_status": "TRANSFER_ARTIFICIAL"}) == (
        "TRANSFER_ARTIFICIAL"
    )


def test_the_default_redial_conditions_are_results_of_calls_that_may_get_through_later() -> None:
    assert ai.DEFAULT_REDIAL_CONDITIONS.issubset(ai.REDIAL_CONDITIONS)
    assert {"NO_ANSWER", "BUSY", "POWER_OFF"} <= ai.DEFAULT_REDIAL_CONDITIONS
    # a number that does not exist, a line cut off, a callee who declined: not again
    assert not {"VACANT_NUMBER", "OUT_OF_SERVICE", "REFUSED"} & ai.DEFAULT_REDIAL_CONDITIONS


def w(a: str, b: str) -> Window:
    return Window(time.fromisoformat(a), time.fromisoformat(b))


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        ([], [w("09:00", "20:00")]),
        ([w("12:00", "13:00")], [w("09:00", "12:00"), w("13:00", "20:00")]),
        # out of order, overlapping, touching the edges, outside the window
        (
            [w("17:00", "21:00"), w("08:00", "10:00"), w("12:00", "13:00"), w("12:30", "14:00")],
            [w("10:00", "12:00"), w("14:00", "17:00")],
        ),
        ([w("06:00", "07:00")], [w("09:00", "20:00")]),
        ([w("09:00", "20:00")], []),
    ],
)
def test_dialing_windows_are_the_day_without_the_gaps(
    gaps: list[Window], expected: list[Window]
) -> None:
    assert ai.dialing_windows(time(9), time(20), gaps) == expected


@pytest.mark.parametrize(
    ("status", "dialed", "reason", "due", "open_", "expected"),
    [
        (St.SUSPENDED, False, "", True, True, "NOT_STARTED"),
        (St.SUSPENDED, True, "", True, True, "USER_PAUSE"),
        (St.SUSPENDED, True, "balance exhausted", True, True, "SYSTEM_SUSPENDED"),
        (St.WAITING, False, "", False, True, "RUNNABLE"),
        (St.WAITING, False, "", True, True, "IN_QUEUE"),
        (St.SUBMITTING, False, "", True, True, "IN_QUEUE"),
        (St.CALLING, True, "", True, True, "IN_PROCESS"),
        (St.CALLING, True, "", True, False, "SYSTEM_SUSPENDED"),
        (St.FINISHED, True, "", True, True, "COMPLETED"),
        (St.SUBMIT_FAILED, False, "no voice", True, True, "TERMINATE"),
        (St.CANCELED, True, "", True, True, "TERMINATE"),
    ],
)
def test_task_status_on_the_wire(
    status: St, dialed: bool, reason: str, due: bool, open_: bool, expected: str
) -> None:
    got = ai.task_status(
        status, ever_dialed=dialed, reason=reason, start_due=due, window_open=open_
    )
    assert got == expected


def test_number_status_follows_the_callee_and_its_task() -> None:
    assert ai.number_status(CalleeState.DIALING, St.SUSPENDED) == "IN_PROCESS"
    assert ai.number_status(CalleeState.PENDING, St.CALLING) == "CAN_START"
    assert ai.number_status(CalleeState.PENDING, St.WAITING) == "CAN_START"
    assert ai.number_status(CalleeState.PENDING, St.SUSPENDED) == "CAN_NOT_START"
    assert ai.number_status(CalleeState.PENDING, St.FINISHED) == "CAN_NOT_START"


def test_a_customer_reads_back_from_its_callee_info() -> None:
    info = ai.customer_info("Jack", "MALE", {"name": "Jack", "income": "3000"})
    assert info == {
        "name": "Jack",
        "gender": "MALE",
        "properties": {"name": "Jack", "income": "3000"},
    }
    assert (ai.name_of(info), ai.properties_of(info)) == (
        "Jack",
        {"name": "Jack", "income": "3000"},
    )
    # a group call's text1..text10 info has no properties
    assert (ai.name_of({"text1": "x"}), ai.properties_of({"text1": "x"})) == (None, {})
    assert (ai.name_of(None), ai.properties_of(None)) == (None, {})
