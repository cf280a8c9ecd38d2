"""What the dialer knows of a task and an account while it dials, loaded once per tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from voxcast.domain.enums import RecordType, TaskKind
from voxcast.storage.models import Account, Task

#: extra lease time of a transfer call: waiting for an agent, then the conversation
TRANSFER_ALLOWANCE_S = 3600 + 600


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
    params: dict[str, Any]
    created_at: datetime
    recall_node_id: int | None
    out_recall_count: int = 0

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
            dict(task.params or {}),
            task.created_at,
            task.recall_node_id,
        )

    @property
    def transfer_group(self) -> int | None:
        """The agent group of a transfer-to-agent task (toSeat=1), else None."""
        if str(self.params.get("toSeat")) != "1":
            return None
        group = self.params.get("sipGroupId") or self.params.get("voiceGroupId")
        return int(group) if group else None

    @property
    def record_type(self) -> int:
        return RecordType.VERIFICATION_CODE if self.kind == TaskKind.CODE else RecordType.GROUP_CALL

    @property
    def redials(self) -> int:
        """sendCode's recallCount: extra attempts on failure; only the last one is reported."""
        if self.kind != TaskKind.CODE:
            return 0
        return int(self.params.get("recallCount") or 0)

    @property
    def redial_interval(self) -> timedelta:
        return timedelta(minutes=int(self.params.get("recallInterval") or 5))

    @property
    def longest_call(self) -> timedelta:
        # a call handed to an agent may wait for one and then talk for up to an hour
        transfer = TRANSFER_ALLOWANCE_S if self.transfer_group is not None else 0
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
