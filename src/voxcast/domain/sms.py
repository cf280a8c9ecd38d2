"""Post-call SMS rules: which hangUpSms trigger fires for a call and its filled-in text, and
which texts of a robot script's conversation are sent, as which app and sender."""

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


@dataclass(frozen=True)
class SmsRoute:
    """Whose a post-call text is: `app_id` gets its delivery report (the app's SMS push URL)
    and its do-not-call list is obeyed; `sms_app_id` (the vendor's SMS product app, kept with
    the message) and `sender_id` (what the callee sees it from; None: the transport's own)."""

    app_id: str
    sms_app_id: str | None
    sender_id: str | None


def script_sms_route(app_id: str, sms: SmsSettings) -> SmsRoute:
    """A robot script's texts go as the task's app: the one its calls report to and whose
    do-not-call list the spoken opt-out writes. An AI group call's smsAppId and senderId
    (extension fields) are used when given; an AiVoice task has neither, so its texts have no
    sender of their own (see docs/sms.md)."""
    return SmsRoute(app_id, sms.app_id or None, sms.sender_id or None)


def script_sms_texts(conversation: dict[str, Any] | None) -> list[str]:
    """The texts a robot's call sends once it has ended: its `sms` actions' texts (variables
    filled in by the dialogue), each distinct one once, in order, blank ones dropped; none
    when the callee opted out (an SMS queued earlier in the call is not sent either)."""
    if not conversation or conversation.get("opted_out"):
        return []
    texts: list[str] = []
    for text in conversation.get("sms") or []:
        if isinstance(text, str) and text.strip() and text not in texts:
            texts.append(text)
    return texts


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
