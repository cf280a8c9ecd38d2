"""Post-call SMS rules (hangUpSms): which trigger fires for a call, and the filled-in text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from voxcast.domain.callresult import CallFacts
from voxcast.domain.task_settings import SmsSettings

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


def plan_sms(sms: SmsSettings, facts: CallFacts, info: dict[str, Any] | None) -> SmsPlan | None:
    """At most one SMS per call; when several triggers hold, the first of feedback, success,
    failed, ring wins. `successPushTime` delays the success SMS after the hang-up."""
    if not sms.enabled or not sms.content:
        return None
    end = facts.hangup_time or facts.call_time
    content = fill(sms.content, info)
    wanted = sms.feedback_value
    if (
        sms.on_feedback
        and facts.first_key is not None
        and wanted is not None
        and wanted == facts.first_key
    ):
        return SmsPlan("feedback", content, end)
    if sms.on_success and facts.answered:
        return SmsPlan("success", content, end + timedelta(seconds=sms.success_delay_s))
    if sms.on_failure and not facts.answered:
        return SmsPlan("failed", content, end)
    if sms.on_ring and facts.ringing_time is not None:
        return SmsPlan("ring", content, end)
    return None


#: the GSM 03.38 default alphabet and its extension table (an extension character costs two)
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


def segment_count(text: str) -> int:
    """How many SMS a text takes: GSM 7-bit when every character has one (160 in one SMS,
    153 per part when concatenated), else UCS-2 (70, 67 per part; a character outside the
    BMP takes two units)."""
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in text):
        units, single, part = sum(2 if ch in _GSM7_EXT else 1 for ch in text), 160, 153
    else:
        units, single, part = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text), 70, 67
    if units <= single:
        return 1
    return -(-units // part)
