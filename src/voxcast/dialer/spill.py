"""The recorder's overflow: finished calls beyond the in-memory bound, kept in a local
append-only JSON-lines file (fsync'd per batch) until the database takes them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.domain.callresult import CallFacts
from voxcast.domain.task_settings import from_params, to_params
from voxcast.ports import HangupBy, ReservedAgent

if TYPE_CHECKING:
    from voxcast.dialer.recorder import Finished

_TIMES_CTX = ("created_at",)
_TIMES_FACTS = (
    "call_time",
    "ringing_time",
    "answer_time",
    "hangup_time",
    "transfer_time",
    "agent_answer_time",
)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def encode(item: Finished, owner: str) -> str:
    """One line of the file: the call's lease owner and everything `Recorder.write` reads."""
    # the settings travel in their stored form (lines of older versions hold the same)
    ctx = {f.name: getattr(item.ctx, f.name) for f in fields(item.ctx) if f.name != "settings"}
    ctx["params"] = to_params(item.ctx.settings)
    ctx["created_at"] = item.ctx.created_at.isoformat()
    claimed = asdict(item.claimed)
    claimed["rate"] = None if item.claimed.rate is None else str(item.claimed.rate)
    facts: dict[str, Any] = asdict(item.facts)
    for name in _TIMES_FACTS:
        value = getattr(item.facts, name)
        facts[name] = None if value is None else value.isoformat()
    facts["hangup_by"] = None if item.facts.hangup_by is None else item.facts.hangup_by.value
    line = {
        "owner": owner,
        "ctx": ctx,
        "claimed": claimed,
        "limits": asdict(item.limits),
        "facts": facts,
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def decode(line: str) -> tuple[str, Finished]:
    from voxcast.dialer.recorder import Finished

    data = json.loads(line)
    ctx = dict(data["ctx"])
    ctx["created_at"] = datetime.fromisoformat(ctx["created_at"])
    ctx["settings"] = from_params(ctx.pop("params"))
    claimed = dict(data["claimed"])
    claimed["rate"] = None if claimed["rate"] is None else Decimal(claimed["rate"])
    facts = dict(data["facts"])
    for name in _TIMES_FACTS:
        facts[name] = _when(facts[name])
    facts["hangup_by"] = None if facts["hangup_by"] is None else HangupBy(facts["hangup_by"])
    agent = facts["agent"]
    if agent is not None:
        agent["route"] = tuple(agent.get("route", ()))  # a JSON list; absent in older spills
    facts["agent"] = None if agent is None else ReservedAgent(**agent)
    item = Finished(
        TaskContext(**ctx),
        Claimed(**claimed),
        AccountLimits(**data["limits"]),
        CallFacts(**facts),
    )
    return str(data["owner"]), item


class SpillFile:
    """Append-only lines read back in order; emptied once everything in it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: bytes already handed out by `read`
        self._offset = 0
        #: lines appended and not yet handed out
        self.waiting = 0
        self._last: tuple[int, int] = (0, 0)

    def append(self, lines: list[str]) -> None:
        """Add lines durably: they survive a crash once this returns."""
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(line + "\n" for line in lines).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.waiting += len(lines)

    def read(self, limit: int) -> list[str]:
        """Up to `limit` lines not handed out yet, oldest first."""
        if self.waiting <= 0:
            return []
        lines: list[str] = []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while len(lines) < limit:
                raw = f.readline()
                if not raw.endswith(b"\n"):  # end of file (or a line cut by a crash)
                    break
                self._offset += len(raw)
                lines.append(raw.decode().rstrip("\n"))
        self.waiting -= len(lines)
        self._last = (len(lines), sum(len(line.encode()) + 1 for line in lines))
        return lines

    def unread(self) -> None:
        """Hand out the lines of the last `read` again (they could not be written)."""
        count, size = self._last
        self._offset -= size
        self.waiting += count
        self._last = (0, 0)

    def reset_if_done(self) -> None:
        """Drop the file once every line in it has been handed out (and written)."""
        if self.waiting <= 0 and self._offset > 0:
            self.path.unlink(missing_ok=True)
            self._offset = 0
            self.waiting = 0

    @staticmethod
    def lines_in(path: Path) -> list[str]:
        """Every complete line of a file left by a process that ended before replaying it."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        return [line for line in whole.decode().split("\n") if line]
