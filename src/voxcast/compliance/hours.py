"""The calling-hours guard: an account never dials a callee outside e.g. 08:00-21:00 of the
callee's local time, whatever the task's own windows say."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from phonenumbers import timezone as pn_timezone

from voxcast.domain import schedule
from voxcast.domain.schedule import Window


def parse_hours(text: str) -> Window:
    """ "HH:MM-HH:MM" → a daily window; ValueError when it is not that."""
    start, sep, end = text.strip().partition("-")
    if not sep:
        raise ValueError(f"{text!r}: must be HH:MM-HH:MM, e.g. 08:00-21:00")
    return Window(schedule.parse_hhmm(start.strip()), schedule.parse_hhmm(end.strip()))


def callee_zones(number: str) -> list[str]:
    """Every time zone the number may be in (a country or area with several gives them all);
    UTC when the number says nothing."""
    try:
        zones = pn_timezone.time_zones_for_number(phonenumbers.parse("+" + number.lstrip("+")))
    except phonenumbers.NumberParseException:
        return ["UTC"]
    usable = [z for z in zones if z != "Etc/Unknown" and schedule.known_zone(z)]
    return usable or ["UTC"]


def held_until(hours: str | None, number: str, now: datetime) -> datetime | None:
    """None when the callee may be dialed now; else when to look again. A number whose
    country spans several zones is dialed only when every one of them is inside the hours."""
    if not hours:
        return None
    try:
        window = parse_hours(hours)
    except ValueError:
        return None  # stored values are checked when set; a bad one never blocks dialing
    closed = [
        z
        for z in callee_zones(number)
        if not window.contains(now.astimezone(schedule.zone(z)).time())
    ]
    if not closed:
        return None
    return max(schedule.next_open([window], z, now) for z in closed)
