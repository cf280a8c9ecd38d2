"""The task state machine: every (status, event) -> status a task may take, in one table, and
the error an event raises in any other status. Status values are the vendor's (api-catalog:
0 waiting, 1 calling, 2 finished, 3 submit failed, 4 canceled, 5 suspended, 6 submitting).

```
 WAITING ─start─► SUBMITTING ─prepared─► CALLING ─finish─► FINISHED
    ▲                 └─prepare_failed─► SUBMIT_FAILED
    └─resume── SUSPENDED ◄─pause (waiting, submitting, calling); balance_out (calling)
 cancel (waiting, submitting, calling, suspended) ─► CANCELED
 reopen (a preview resend): FINISHED, CANCELED ─► WAITING;  edit: WAITING ─► WAITING
 delete (aivoice/taskDel): SUSPENDED, FINISHED, SUBMIT_FAILED, CANCELED ─► DELETED
```
An AiVoice task is created SUSPENDED (INITIAL_STOPPED): `taskStart` is a resume.
The writer that applies the table to rows is `voxcast.storage.task_status`.
"""

from __future__ import annotations

from enum import StrEnum

from voxcast.domain.enums import TaskStatus

W, C, F, X, K, S, B, D = (
    TaskStatus.WAITING,
    TaskStatus.CALLING,
    TaskStatus.FINISHED,
    TaskStatus.SUBMIT_FAILED,
    TaskStatus.CANCELED,
    TaskStatus.SUSPENDED,
    TaskStatus.SUBMITTING,
    TaskStatus.DELETED,
)


class TaskEvent(StrEnum):
    """What happens to a task, and who makes it happen."""

    #: the owner changes a task that has not started (group call update): it stays waiting
    EDIT = "edit"
    #: the scheduler: sendTime has come
    START = "start"
    #: the dialer: every prompt of the task is ready
    PREPARED = "prepared"
    #: the dialer: a prompt cannot be prepared (the reason is kept)
    PREPARE_FAILED = "prepare_failed"
    #: the scheduler: no callee is left to dial
    FINISH = "finish"
    #: the scheduler: the account's balance ran out
    BALANCE_OUT = "balance_out"
    #: the owner (group call provisional)
    PAUSE = "pause"
    #: the owner (group call resume, a voxcast extension)
    RESUME = "resume"
    #: the owner (group call cancel)
    CANCEL = "cancel"
    #: the owner resends a preview task's numbers, or imports callees into a finished AiVoice
    #: task: the same task dials again
    REOPEN = "reopen"
    #: the owner deletes an AiVoice task that is not dialing (aivoice/taskDel)
    DELETE = "delete"


#: every legal transition; anything else raises IllegalTransition
TRANSITIONS: dict[tuple[TaskStatus, TaskEvent], TaskStatus] = {
    (W, TaskEvent.EDIT): W,
    (W, TaskEvent.START): B,
    (B, TaskEvent.PREPARED): C,
    (B, TaskEvent.PREPARE_FAILED): X,
    (C, TaskEvent.FINISH): F,
    (C, TaskEvent.BALANCE_OUT): S,
    (W, TaskEvent.PAUSE): S,
    (C, TaskEvent.PAUSE): S,
    (B, TaskEvent.PAUSE): S,
    (S, TaskEvent.RESUME): W,
    (W, TaskEvent.CANCEL): K,
    (C, TaskEvent.CANCEL): K,
    (S, TaskEvent.CANCEL): K,
    (B, TaskEvent.CANCEL): K,
    (F, TaskEvent.REOPEN): W,
    (K, TaskEvent.REOPEN): W,
    (S, TaskEvent.DELETE): D,
    (F, TaskEvent.DELETE): D,
    (X, TaskEvent.DELETE): D,
    (K, TaskEvent.DELETE): D,
}

#: the status a task is created in
INITIAL = W
#: the status a recall round's task is created in: it is due at once, its settings checked
INITIAL_RECALL_ROUND = B
#: the status an AiVoice task is created in: stopped until `taskStart` resumes it (B.14)
INITIAL_STOPPED = S
#: statuses a task ends in (a preview resend reopens the finished and canceled ones)
FINAL = frozenset({F, X, K, D})


class IllegalTransition(Exception):
    """`event` cannot happen to a task in `status`; the API answers with the code the
    endpoint documents."""

    def __init__(self, task_id: int | None, status: TaskStatus, event: TaskEvent) -> None:
        self.task_id = task_id
        self.status = status
        self.event = event
        super().__init__(f"task {task_id} is {status.name.lower()}: cannot {event.value}")


def next_status(status: int, event: TaskEvent, task_id: int | None = None) -> TaskStatus:
    """The status after `event`; IllegalTransition when the table has no such move."""
    current = TaskStatus(status)
    target = TRANSITIONS.get((current, event))
    if target is None:
        raise IllegalTransition(task_id, current, event)
    return target


def sources(event: TaskEvent) -> frozenset[TaskStatus]:
    """The statuses `event` may happen in."""
    return frozenset(s for (s, e) in TRANSITIONS if e == event)


def target(event: TaskEvent) -> TaskStatus:
    """The one status `event` leads to (each event has a single target, so a bulk update can
    move every task it applies to at once)."""
    (only,) = {t for (_s, e), t in TRANSITIONS.items() if e == event}
    return only
