"""Compliance: do-not-call lists, key-press opt-out and the calling-hours guard
(docs/compliance.md). Callers use this face; the modules behind it are private."""

from voxcast.compliance.dnc import (
    ACCOUNT_WIDE,
    API,
    CONSOLE,
    IMPORT,
    KEY_PRESS,
    VOICE,
    DncEntry,
    add,
    all_entries,
    audit_trail,
    entries,
    entry_page,
    listed,
    remove,
    screen,
    stream_entries,
)
from voxcast.compliance.hours import held_until, parse_hours
from voxcast.compliance.numbers import BadNumber, callee_key, normalize, read_numbers, regions

__all__ = [
    "ACCOUNT_WIDE",
    "API",
    "CONSOLE",
    "IMPORT",
    "KEY_PRESS",
    "VOICE",
    "BadNumber",
    "DncEntry",
    "add",
    "all_entries",
    "audit_trail",
    "callee_key",
    "entries",
    "entry_page",
    "held_until",
    "listed",
    "normalize",
    "parse_hours",
    "read_numbers",
    "regions",
    "remove",
    "screen",
    "stream_entries",
]
