"""The task state machine: every (status, event) pair of the table, legal or not, with the
status it leads to written out here (not read from the table under test)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voxcast.domain.enums import TaskStatus as St
from voxcast.domain.task_states import (
    FINAL,
    INITIAL,
    INITIAL_STOPPED,
    IllegalTransition,
    TaskEvent,
    next_status,
    sources,
    target,
)
from voxcast.storage.models import Task
from voxcast.storage.task_status import move

E = TaskEvent
EXPECTED = {
    (St.WAITING, E.EDIT): St.WAITING,
    (St.WAITING, E.START): St.SUBMITTING,
    (St.SUBMITTING, E.PREPARED): St.CALLING,
    (St.SUBMITTING, E.PREPARE_FAILED): St.SUBMIT_FAILED,
    (St.CALLING, E.FINISH): St.FINISHED,
    (St.CALLING, E.BALANCE_OUT): St.SUSPENDED,
    (St.WAITING, E.PAUSE): St.SUSPENDED,
    (St.CALLING, E.PAUSE): St.SUSPENDED,
    (St.SUBMITTING, E.PAUSE): St.SUSPENDED,
    (St.SUSPENDED, E.RESUME): St.WAITING,
    (St.WAITING, E.CANCEL): St.CANCELED,
    (St.CALLING, E.CANCEL): St.CANCELED,
    (St.SUSPENDED, E.CANCEL): St.CANCELED,
    (St.SUBMITTING, E.CANCEL): St.CANCELED,
    (St.FINISHED, E.REOPEN): St.WAITING,
    (St.CANCELED, E.REOPEN): St.WAITING,
    (St.SUSPENDED, E.DELETE): St.DELETED,
    (St.FINISHED, E.DELETE): St.DELETED,
    (St.SUBMIT_FAILED, E.DELETE): St.DELETED,
    (St.CANCELED, E.DELETE): St.DELETED,
}
ALL_PAIRS = [(s, e) for s in St for e in E]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_pairs_cover_eight_statuses_and_eleven_events() -> None:
    assert len(ALL_PAIRS) == 88
    assert len(EXPECTED) == 20


@pytest.mark.parametrize(("status", "event"), ALL_PAIRS)
def test_every_status_and_event(status: St, event: TaskEvent) -> None:
    if (status, event) in EXPECTED:
        assert next_status(status, event) == EXPECTED[(status, event)]
        return
    with pytest.raises(IllegalTransition) as err:
        next_status(int(status), event, task_id=42)
    assert (err.value.task_id, err.value.status, err.value.event) == (42, status, event)
    assert str(err.value) == f"task 42 is {status.name.lower()}: cannot {event.value}"


def test_sources_and_the_single_target_of_each_event() -> None:
    assert sources(E.PAUSE) == {St.WAITING, St.CALLING, St.SUBMITTING}
    assert sources(E.CANCEL) == {St.WAITING, St.CALLING, St.SUSPENDED, St.SUBMITTING}
    assert sources(E.RESUME) == {St.SUSPENDED}
    assert sources(E.REOPEN) == {St.FINISHED, St.CANCELED}
    assert sources(E.START) == {St.WAITING}
    assert target(E.PAUSE) == St.SUSPENDED
    assert target(E.CANCEL) == St.CANCELED
    assert target(E.PREPARE_FAILED) == St.SUBMIT_FAILED
    # a task that may be dialing is never deleted: it is stopped first
    assert sources(E.DELETE) == {St.SUSPENDED, St.FINISHED, St.SUBMIT_FAILED, St.CANCELED}
    assert target(E.DELETE) == St.DELETED


def test_initial_and_final_statuses() -> None:
    assert INITIAL == St.WAITING
    assert INITIAL_STOPPED == St.SUSPENDED
    assert {St.FINISHED, St.SUBMIT_FAILED, St.CANCELED, St.DELETED} == FINAL
    # a final status is left only by a reopen or a deletion, and a deleted task never
    leaving = {s: [e for e in E if next_or_none(s, e) is not None] for s in FINAL}
    assert leaving == {
        St.FINISHED: [E.REOPEN, E.DELETE],
        St.CANCELED: [E.REOPEN, E.DELETE],
        St.SUBMIT_FAILED: [E.DELETE],
        St.DELETED: [],
    }


def next_or_none(status: St, event: TaskEvent) -> St | None:
    try:
        return next_status(status, event)
    except IllegalTransition:
        return None


def test_the_writer_sets_the_columns_of_the_new_status() -> None:
    task = Task(id=9, status=St.SUBMITTING, status_reason="", finished_at=None)
    assert move(task, E.PREPARE_FAILED, T0, reason="voice file f does not exist") == 3
    assert (task.status, task.status_reason, task.finished_at, task.started_at) == (
        St.SUBMIT_FAILED,
        "voice file f does not exist",
        T0,
        T0,
    )
    assert task.updated_at == T0


def test_the_writer_leaves_a_task_unchanged_on_an_illegal_event() -> None:
    task = Task(id=9, status=St.FINISHED, status_reason="", finished_at=T0)
    with pytest.raises(IllegalTransition):
        move(task, E.PAUSE, T0)
    assert (task.status, task.finished_at) == (St.FINISHED, T0)
