"""Log set-up of `serve` and `worker`: plain text, or one JSON object a line
(VOXCAST_LOG_FORMAT=json) carrying the voiceId of the call a line is about (a context variable)."""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: the voiceId of the call the current task runs; asyncio tasks started from it inherit it
voice_id: ContextVar[str | None] = ContextVar("voxcast_voice_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FORMATS = ("text", "json")


def bind_call(call_voice_id: str | None) -> None:
    """Every line logged from here on in this task (and tasks it starts) names this call."""
    voice_id.set(call_voice_id)


class _VoiceIdFilter(logging.Filter):
    """Copies the current call's voiceId onto the record, where any formatter can use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "voiceId"):
            record.voiceId = voice_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and voiceId when
    the line is about a call; an exception's traceback in `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call = getattr(record, "voiceId", None)
        if call is not None:
            out["voiceId"] = call
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_format() -> str:
    """VOXCAST_LOG_FORMAT: `text` (the default) or `json`."""
    chosen = os.environ.get("VOXCAST_LOG_FORMAT", "").strip().lower() or "text"
    if chosen not in FORMATS:
        raise ValueError(f"VOXCAST_LOG_FORMAT={chosen!r}: want one of {', '.join(FORMATS)}")
    return chosen


def configure(level: str) -> None:
    """The root logger of a `serve` or `worker` process, in the configured format."""
    handler = logging.StreamHandler()
    handler.addFilter(_VoiceIdFilter())
    if log_format() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def uvicorn_log_config() -> dict[str, Any] | None:
    """uvicorn's logging set-up: its own for text; none for JSON, so its lines (startup,
    errors, access) reach the root logger's JSON handler."""
    if log_format() == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
