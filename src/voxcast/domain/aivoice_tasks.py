"""AiVoice robot tasks (spec supplement B.3-B.14) in voxcast's terms: the wire statuses of a
task and of its numbers, `resultStatus` of a call, the daily dialing windows, and how a
customer's name and `properties` are kept on its callee row. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any

from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.domain.schedule import Window

MANUAL, AUTO = "MANUAL", "AUTO"
MODES = (MANUAL, AUTO)
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
GENDERS = ("MALE", "FEMALE")
#: B.13 / main catalog §6.3
RESULT_STATUSES = (
    "ANSWERED",
    "NO_ANSWER",
    "BUSY",
    "POWER_OFF",
    "OUT_OF_SERVICE",
    "REFUSED",
    "VACANT_NUMBER",
    "CAN_NOT_CONNECT",
    "FROM_PHONE_ERROR",
    "SYSTEM_ERROR",
    "CALL_LOSS",
    "TRANSFER_ARTIFICIAL",
)
#: redialCondition takes the results of calls that did not reach the customer
REDIAL_CONDITIONS = tuple(
    r for r in RESULT_STATUSES if r not in ("ANSWERED", "TRANSFER_ARTIFICIAL")
)
#: what redial=true redials when redialCondition is missing or empty (the vendor documents no
#: default): calls that may get through later. Not a number that does not exist or whose line
#: is cut off (VACANT_NUMBER, OUT_OF_SERVICE), a callee who declined (REFUSED), nor a fault of
#: the calling account (FROM_PHONE_ERROR): calling those again only costs.
DEFAULT_REDIAL_CONDITIONS = frozenset(
    {"NO_ANSWER", "BUSY", "POWER_OFF", "CAN_NOT_CONNECT", "CALL_LOSS", "SYSTEM_ERROR"}
)
#: importCustomer takes at most this many customers per request (B.6)
MAX_CUSTOMERS = 100
#: inactiveTimeList and inactiveDateList hold at most this many entries (B.3)
MAX_INACTIVE = 3

# task statuses of taskList (B.13: Yiwise's names; the vendor documents none)
NOT_STARTED = "NOT_STARTED"
RUNNABLE = "RUNNABLE"
IN_QUEUE = "IN_QUEUE"
IN_PROCESS = "IN_PROCESS"
USER_PAUSE = "USER_PAUSE"
SYSTEM_SUSPENDED = "SYSTEM_SUSPENDED"
COMPLETED = "COMPLETED"
TERMINATE = "TERMINATE"

# per-number statuses of taskNoCall (B.10)
CAN_NOT_START = "CAN_NOT_START"
CAN_START = "CAN_START"
NUMBER_IN_PROCESS = "IN_PROCESS"
NUMBER_STATUSES = (CAN_NOT_START, CAN_START, NUMBER_IN_PROCESS)

#: voxcast statuses in which a task's pending numbers will be dialed without the owner
RUNNING = (TaskStatus.WAITING, TaskStatus.SUBMITTING, TaskStatus.CALLING)


def task_status(
    status: int,
    *,
    ever_dialed: bool,
    reason: str,
    start_due: bool,
    window_open: bool,
) -> str:
    """taskList's `status` of a task: `ever_dialed` (the dialer has taken it), `reason` (why it
    is suspended: empty for taskStop), `start_due` (no start time, or it has come) and
    `window_open` (its daily windows are open now)."""
    st = TaskStatus(status)
    if st == TaskStatus.SUSPENDED:
        if reason:
            return SYSTEM_SUSPENDED  # the account's balance ran out
        return USER_PAUSE if ever_dialed else NOT_STARTED
    if st == TaskStatus.WAITING:
        return IN_QUEUE if start_due else RUNNABLE
    if st == TaskStatus.SUBMITTING:
        return IN_QUEUE
    if st == TaskStatus.CALLING:
        return IN_PROCESS if window_open else SYSTEM_SUSPENDED
    if st == TaskStatus.FINISHED:
        return COMPLETED
    return TERMINATE


def number_status(state: int, task_status: int) -> str:
    """taskNoCall's per-number `status` of a callee that is not finished."""
    if state == CalleeState.DIALING:
        return NUMBER_IN_PROCESS
    return CAN_START if task_status in RUNNING else CAN_NOT_START


def result_status(answered: bool, sip_code: int) -> str:
    """A call's `resultStatus` (§6.3) from its outcome: answered, else the SIP final code."""
    if answered:
        return "ANSWERED"
    if sip_code in (408, 480, 487):
        return "NO_ANSWER"
    if sip_code in (486, 600):
        return "BUSY"
    if sip_code in (603, 403):
        return "REFUSED"
    if sip_code in (404, 484, 604):
        return "VACANT_NUMBER"
    if sip_code == 410:
        return "OUT_OF_SERVICE"
    if sip_code == 402:
        return "FROM_PHONE_ERROR"  # payment required: the calling side's account
    if sip_code == 500 or sip_code == 0:
        return "SYSTEM_ERROR"  # voxcast could not place the call
    return "CAN_NOT_CONNECT"


def call_result(answered: bool, sip_code: int, conversation: Mapping[str, Any] | None) -> str:
    """A call's `resultStatus`, the one reading the push, recordQuery and the redial rule share:
    the robot's own verdict when it gave one (a transfer to a human lost on the way), else the
    outcome's (`result_status`)."""
    found = (conversation or {}).get("result_status")
    return str(found) if found else result_status(answered, sip_code)


def dialing_windows(start: time, end: time, inactive: Sequence[Window]) -> list[Window]:
    """The daily window [start, end) without the inactive windows: the task's allowSendTime.
    Both are same-day windows (start before end)."""
    parts = [(start, end)]
    for gap in sorted(inactive, key=lambda w: w.start):
        kept = []
        for a, b in parts:
            if gap.end <= a or gap.start >= b:
                kept.append((a, b))
                continue
            if a < gap.start:
                kept.append((a, gap.start))
            if gap.end < b:
                kept.append((gap.end, b))
        parts = kept
    return [Window(a, b) for a, b in parts]


def customer_info(
    name: str | None, gender: str | None, properties: Mapping[str, str]
) -> dict[str, Any]:
    """What a callee row keeps of an imported customer (its `info` column)."""
    return {"name": name, "gender": gender, "properties": dict(properties)}


def properties_of(info: Mapping[str, Any] | None) -> dict[str, str]:
    """The customer's `properties`: what the robot fills `${name}` variables from."""
    found = (info or {}).get("properties")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def name_of(info: Mapping[str, Any] | None) -> str | None:
    name = (info or {}).get("name")
    return None if name is None else str(name)


def start_due(send_time: datetime | None, now: datetime) -> bool:
    return send_time is None or send_time <= now
