"""Call records as the vendor shows them: the query JSON (ISO times) and the push JSON (ms)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from voxcast.storage.models import CallRecord


def _money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.6f}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def _common(rec: CallRecord) -> dict[str, Any]:
    return {
        "voiceId": rec.voice_id,
        "type": rec.type,
        "callee": rec.callee,
        "displayNum": rec.display_num,
        "code": rec.code,
        "callDuration": rec.call_duration,
        "chargedDuration": rec.charged_duration,
        "ringDuration": rec.ring_duration,
        "billPeriod": rec.bill_period,
        "rate": _money(rec.rate),
        "baseCost": _money(rec.base_cost),
        "cost": _money(rec.cost),
        "currency": "USD",
        "terminationCode": rec.termination_code,
        "terminationReason": rec.termination_reason,
        "sipCode": rec.sip_code,
        "feedbackValue": rec.feedback_value,
        "calledInfo": rec.called_info,
        "voiceFileId": rec.voice_file_id,
        "outRecallCount": rec.out_recall_count,
    }


_TIMES = ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")


def _times(rec: CallRecord) -> tuple[datetime | None, ...]:
    return (rec.submit_time, rec.call_time, rec.ringing_time, rec.answer_time, rec.hangup_time)


def record_to_query_json(rec: CallRecord) -> dict[str, Any]:
    """recordGroup / recordGroupQuery: times as ISO-8601 strings with offset."""
    out = _common(rec)
    out.update(zip(_TIMES, (_iso(t) for t in _times(rec)), strict=True))
    return out


def record_to_push_json(rec: CallRecord) -> dict[str, Any]:
    """The voice status report push (§4.1): times as epoch milliseconds."""
    out = _common(rec)
    out.update(zip(_TIMES, (_ms(t) for t in _times(rec)), strict=True))
    return out
