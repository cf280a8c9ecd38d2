"""Post-call SMS rules (hangUpSms): which trigger fires for a call, and the filled-in text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from voxcast.domain.callresult import CallFacts

_VAR = re.compile(r"\$\{(text(?:10|[1-9]))\}")


@dataclass(frozen=True)
class SmsPlan:
    trigger: str  # feedback | success | failed | ring
    content: str
    send_at: datetime


def fill(template: str, info: dict[str, Any] | None) -> str:
    """Replace ${text1}..${text10} with the callee's values (missing ones become empty)."""
    values = info or {}
    return _VAR.sub(lambda m: str(values.get(m.group(1)) or ""), template)


def _on(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name) or "0") == "1"


def plan_sms(
    params: dict[str, Any], facts: CallFacts, info: dict[str, Any] | None
) -> SmsPlan | None:
    """At most one SMS per call; when several triggers hold, the first of feedback, success,
    failed, ring wins. `successPushTime` delays the success SMS after the hang-up."""
    if not _on(params, "hangUpSms") or not params.get("smsContent"):
        return None
    end = facts.hangup_time or facts.call_time
    content = fill(str(params["smsContent"]), info)
    wanted = params.get("feedbackValue")
    if (
        _on(params, "feedbackPush")
        and facts.first_key is not None
        and wanted is not None
        and str(wanted) == facts.first_key
    ):
        return SmsPlan("feedback", content, end)
    if _on(params, "successPush") and facts.answered:
        delay = int(params.get("successPushTime") or 0)
        return SmsPlan("success", content, end + timedelta(seconds=delay))
    if _on(params, "failedPush") and not facts.answered:
        return SmsPlan("failed", content, end)
    if _on(params, "ringPush") and facts.ringing_time is not None:
        return SmsPlan("ring", content, end)
    return None
