"""Time rules of a task: sendTime, allowSendTime windows (up to 3, may cross midnight), and
when a window next opens. Pure functions; the zone is always given explicitly."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# Java's LocalDateTime pattern: every part has its full number of digits
_SEND_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
SEND_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: allowSendTime holds at most this many windows
MAX_WINDOWS = 3


def zone(name: str) -> ZoneInfo:
    """An IANA zone; an unknown name falls back to UTC (names are checked where they are set)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return ZoneInfo("UTC")


def known_zone(name: str) -> bool:
    """Whether `name` is a time zone of the system's IANA database ("Asia/Kolkata", "UTC",
    "Etc/GMT-8"); misspelt names, paths and data files that are not zones are not."""
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def parse_hhmm(text: str) -> time:
    """ "HH:mm" (the docs' "HH:SS" is a typo; one-digit hours are accepted) → time;
    ValueError otherwise."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not HH:mm")
    return time(int(m.group(1)), int(m.group(2)))


def parse_send_time(text: str, zone_name: str) -> datetime:
    """ "yyyy-MM-dd HH:mm:ss" read in `zone_name` → an aware datetime; ValueError when the
    text has another shape or names a date that does not exist (2026-02-30)."""
    text = text.strip()
    if not _SEND_TIME.match(text):
        raise ValueError(f"{text!r} is not yyyy-MM-dd HH:mm:ss")
    naive = datetime.strptime(text, SEND_TIME_FORMAT)
    return naive.replace(tzinfo=zone(zone_name))


@dataclass(frozen=True)
class Window:
    """A daily window [start, end) in local time. An end that is not after the start crosses
    midnight ("22:00"-"06:00"); start == end is the whole day."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class BadWindow(ValueError):
    """allowSendTime[index].field is missing or not "HH:mm"."""

    def __init__(self, index: int, field: str) -> None:
        self.index = index
        self.field = field
        super().__init__(f"allowSendTime[{index}].{field}: must be HH:mm")


def parse_windows(raw: Sequence[Mapping[str, Any]] | None) -> list[Window]:
    """The request's `[{"strTime":"HH:mm","endTime":"HH:mm"}, ...]` → windows; BadWindow
    names the first bad entry. The count limit (MAX_WINDOWS) is the caller's to enforce."""
    out = []
    for i, w in enumerate(raw or ()):
        parts = []
        for name in ("strTime", "endTime"):
            value = w.get(name)
            try:
                parts.append(parse_hhmm(value if isinstance(value, str) else ""))
            except ValueError:
                raise BadWindow(i, name) from None
        out.append(Window(parts[0], parts[1]))
    return out


def _windows(raw: Sequence[Mapping[str, Any]] | None) -> list[Window]:
    """Windows of stored (already validated) settings; anything unreadable is ignored."""
    try:
        return parse_windows(raw)
    except BadWindow:
        return []


def in_windows(windows: Sequence[Mapping[str, Any]] | None, local: time) -> bool:
    """Whether the local time is inside any window; no windows means any time."""
    return open_at(_windows(windows), local)


def open_at(windows: Sequence[Window], local: time) -> bool:
    """Whether the local time is inside any of the parsed windows; none means any time."""
    return not windows or any(w.contains(local) for w in windows)


def next_opening(
    windows: Sequence[Mapping[str, Any]] | None, zone_name: str, now: datetime
) -> datetime:
    """The next instant after `now` at which a window opens in `zone_name` (minute resolution)."""
    return next_open(_windows(windows), zone_name, now)


def next_open(windows: Sequence[Window], zone_name: str, now: datetime) -> datetime:
    """`next_opening` of parsed windows."""
    parsed = windows
    if not parsed:
        return now
    local = now.astimezone(zone(zone_name))
    candidates = []
    for day in (0, 1):
        for w in parsed:
            at = local.replace(hour=w.start.hour, minute=w.start.minute, second=0, microsecond=0)
            at += timedelta(days=day)
            if at > local:
                candidates.append(at)
    return min(candidates)
