"""What the dialer knows of a task and an account while it dials, loaded once per tick, and of
each callee it has claimed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from voxcast.domain.callresult import CallFacts
from voxcast.domain.enums import RecordType, TaskKind
from voxcast.domain.task_settings import TaskSettings, from_params
from voxcast.storage.models import Account, Task

#: the tasks whose failed calls are dialed again (sendCode's recallCount, an AiVoice task's
#: redial); a group call's recall rounds are tasks of their own (services.recall)
REDIALING = (TaskKind.CODE, TaskKind.AIVOICE)

#: extra lease time of a transfer call: waiting for an agent, then the conversation
TRANSFER_ALLOWANCE_S = 3600 + 600
#: extra lease time of a click-to-call: its phone's ring time, at most
PHONE_RING_ALLOWANCE_S = 300


@dataclass
class TaskContext:
    id: int
    account_id: int
    app_id: str
    kind: int
    status: int
    display_num: str | None
    source: int | None
    voice_file_id: str | None
    text: str | None
    loop_count: int
    max_calls: int
    max_ringing_time: int
    delay_play: int
    delay_hangup: int
    settings: TaskSettings
    created_at: datetime
    recall_node_id: int | None
    out_recall_count: int = 0
    #: the robot's script (AI group calls' scriptId, AiVoice tasks' dialogFlowId)
    script_id: int | None = None

    @classmethod
    def of(cls, task: Task) -> TaskContext:
        return cls(
            task.id,
            task.account_id,
            task.app_id,
            task.kind,
            task.status,
            task.display_num,
            task.source,
            task.voice_file_id,
            task.text,
            task.loop_count,
            task.max_calls,
            task.max_ringing_time,
            task.delay_play,
            task.delay_hangup,
            from_params(task.params),
            task.created_at,
            task.recall_node_id,
            script_id=task.script_id,
        )

    @property
    def transfer_group(self) -> int | None:
        """The agent group of a transfer-to-agent task (toSeat=1), else None."""
        return self.settings.transfer.group

    @property
    def record_type(self) -> int:
        if self.kind == TaskKind.SIP_CALL:
            return RecordType.SIP_PHONE
        return RecordType.VERIFICATION_CODE if self.kind == TaskKind.CODE else RecordType.GROUP_CALL

    def redials_after(self, attempt: int, facts: CallFacts) -> bool:
        """Whether the callee is dialed again after its `attempt`-th call ended as `facts`."""
        return self.kind in REDIALING and self.settings.redial.again(attempt, facts)

    @property
    def records_each_attempt(self) -> bool:
        """An AiVoice task records and pushes every call (B.14); sendCode only its last."""
        return self.kind == TaskKind.AIVOICE

    @property
    def redial_interval(self) -> timedelta:
        return self.settings.redial.interval

    @property
    def longest_call(self) -> timedelta:
        # a call handed to an agent may wait for one and then talk for up to an hour
        transfer = TRANSFER_ALLOWANCE_S if self.transfer_group is not None else 0
        if self.kind == TaskKind.SIP_CALL:
            transfer = PHONE_RING_ALLOWANCE_S  # the caller's phone rings before the callee
        return timedelta(
            seconds=self.max_ringing_time
            + self.max_calls
            + self.delay_play
            + self.delay_hangup
            + transfer
        )


@dataclass(frozen=True)
class AccountLimits:
    id: int
    max_cps: int
    max_channels: int
    bill_period: str
    timezone: str

    @classmethod
    def of(cls, account: Account) -> AccountLimits:
        return cls(
            account.id, account.max_cps, account.max_channels, account.bill_period, account.timezone
        )


@dataclass
class Claimed:
    """A callee leased to this worker for one attempt."""

    id: int
    task_id: int
    seq: int
    callee: str
    info: dict[str, Any] | None
    voice_id: str | None
    attempts: int
    #: USD per minute frozen at submission; None on rows made before rates were frozen
    rate: Decimal | None = None
