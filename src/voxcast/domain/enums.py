"""Enumerations of the vendor API (task, recall and record types) with their wire values."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class TaskStatus(IntEnum):
    """Group-call task status, as `query` and `detail` report it."""

    WAITING = 0
    CALLING = 1
    FINISHED = 2
    SUBMIT_FAILED = 3
    CANCELED = 4
    SUSPENDED = 5
    SUBMITTING = 6
    #: voxcast's own: an AiVoice task removed by `aivoice/taskDel` (never listed; its call
    #: records stay)
    DELETED = 7


#: statuses in which a task still counts against the account's concurrent-task limit
ACTIVE_TASK_STATUSES = (
    TaskStatus.WAITING,
    TaskStatus.CALLING,
    TaskStatus.SUSPENDED,
    TaskStatus.SUBMITTING,
)


class TaskKind(IntEnum):
    """What a task row holds. Group tasks show in `query`; messages are single API sends."""

    GROUP = 1  # voice/group/call/send (taskType 1)
    AI = 2  # voice/group/call/send/ai (taskType 2)
    CODE = 10  # voice/sendCode: one callee, TTS
    MESSAGE = 11  # voice/sendGroup: several callees, one uploaded file
    SIP_CALL = 12  # voice/sendSip: a seat's phone rung first, then bridged to one callee
    PREVIEW = 20  # cc/preview/submitTask: callees handed to agents as they answer, no message
    AIVOICE = 30  # aivoice/taskAdd: a robot task (jobId) its owner starts and stops


#: tasks whose calls the AI robot makes: group calls with a scriptId, and AiVoice tasks
AI_KINDS = (TaskKind.AI, TaskKind.AIVOICE)


class RecordType(IntEnum):
    """`type` of a voice call record (push and record query)."""

    GROUP_CALL = 1
    VERIFICATION_CODE = 2
    SIP_PHONE = 3
    DIRECT_DIAL = 4


class TerminationStyle(StrEnum):
    """How a voice app's records show `terminationCode` (the vendor's pages disagree).

    SIP (the default): the SIP final code, "200" when answered (ITNIO TECH, ONBUKA, LAAFFIC zh).
    ZERO: "0" when answered, the SIP code otherwise (LAAFFIC EN: "0 success, other failure").
    `sipCode` always carries the SIP code.
    """

    SIP = "sip"
    ZERO = "zero"


def styled_termination_code(code: str, style: str) -> str:
    """`terminationCode` as an app of this style shows it."""
    return "0" if style == TerminationStyle.ZERO and code == "200" else code


class RecallStatus(IntEnum):
    """Status of a recall flow and of each of its nodes."""

    PENDING = 0
    IN_PROGRESS = 1
    COMPLETED = 2
    CANCELLED = 3
    EXCEPTION = 4


class RecallType(IntEnum):
    """Which numbers a recall round dials: all of the previous round, or only its failures."""

    ALL = 0
    FAILED = 1


class CalleeState(IntEnum):
    """Where one callee of a task stands in the dialer."""

    PENDING = 0
    DIALING = 1
    DONE = 2
    SKIPPED = 3


class Source(IntEnum):
    """Where a task's prompt comes from."""

    UPLOADED = 1
    UPLOAD_NOW = 2
    TTS = 3
