"""Time rules of a task: sendTime, allowSendTime windows (up to 3, may cross midnight), and
when a window next opens. Pure functions; the zone is always given explicitly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
SEND_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def zone(name: str) -> ZoneInfo:
    """An IANA zone; an unknown name falls back to UTC (names are checked where they are set)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def parse_hhmm(text: str) -> time:
    """ "HH:mm" (the docs' "HH:SS" is a typo) → time; ValueError otherwise."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not HH:mm")
    return time(int(m.group(1)), int(m.group(2)))


def parse_send_time(text: str, zone_name: str) -> datetime:
    """ "yyyy-MM-dd HH:mm:ss" read in `zone_name` → aware UTC-comparable datetime."""
    naive = datetime.strptime(text.strip(), SEND_TIME_FORMAT)
    return naive.replace(tzinfo=zone(zone_name))


def _windows(windows: Sequence[dict[str, Any]] | None) -> list[tuple[time, time]]:
    out = []
    for w in windows or ():
        try:
            out.append((parse_hhmm(str(w["strTime"])), parse_hhmm(str(w["endTime"]))))
        except (KeyError, ValueError):
            continue
    return out


def in_windows(windows: Sequence[dict[str, Any]] | None, local: time) -> bool:
    """Inside any window [start, end); a window whose end is not after its start crosses
    midnight; no windows means any time."""
    parsed = _windows(windows)
    if not parsed:
        return True
    for start, end in parsed:
        if start < end:
            if start <= local < end:
                return True
        elif local >= start or local < end:
            return True
    return False


def next_opening(
    windows: Sequence[dict[str, Any]] | None, zone_name: str, now: datetime
) -> datetime:
    """The next instant after `now` at which a window opens in `zone_name` (minute resolution)."""
    parsed = _windows(windows)
    if not parsed:
        return now
    local = now.astimezone(zone(zone_name))
    candidates = []
    for day in (0, 1):
        for start, _end in parsed:
            at = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
            at += timedelta(days=day)
            if at > local:
                candidates.append(at)
    return min(candidates)
