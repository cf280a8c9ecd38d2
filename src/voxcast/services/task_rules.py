"""Rules that join several fields of a task or recall node, each answered with its own code:
prompt source (-22/-38/-39), hang-up SMS (-53), seat transfer (-22), times (-11), variables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import repeat
from typing import Any

from voxcast.domain import languages, schedule
from voxcast.domain.codes import ApiError, Code

_VAR = re.compile(r"\$\{(text(?:10|[1-9]))\}")
TEXT_FIELDS = tuple(f"text{i}" for i in range(1, 11))


def _on(fields: Mapping[str, Any], name: str) -> bool:
    return fields.get(name) == 1


def check_prompt(fields: Mapping[str, Any], prefix: str = "") -> None:
    """source 1 needs voiceFileId, 2 uploadName + baseFile, 3 text + lan (-38/-39)."""
    source = fields.get("source")
    if source == 1 and not fields.get("voiceFileId"):
        raise ApiError(Code.PARAMETER, f"{prefix}voiceFileId: is required when source=1")
    if source == 2:
        for name in ("uploadName", "baseFile"):
            if not fields.get(name):
                raise ApiError(Code.PARAMETER, f"{prefix}{name}: is required when source=2")
    if source == 3:
        if not fields.get("text") or not fields.get("lan"):
            missing = "text" if not fields.get("text") else "lan"
            raise ApiError(Code.TTS_REQUIRED, f"{prefix}{missing}: is required when source=3")
        if languages.normalize(fields["lan"]) is None:
            raise ApiError(
                Code.TTS_LANGUAGE,
                f"{prefix}lan: {fields['lan']} is not one of {', '.join(languages.CODES)}",
            )


def check_sms(fields: Mapping[str, Any], prefix: str = "", *, needs_app: bool = True) -> None:
    """hangUpSms=1 needs the template and at least one trigger (-53) with its own settings."""
    if not _on(fields, "hangUpSms"):
        return
    if needs_app and not fields.get("smsAppId"):
        raise ApiError(Code.PARAMETER, f"{prefix}smsAppId: is required when hangUpSms=1")
    if not fields.get("smsContent"):
        raise ApiError(Code.PARAMETER, f"{prefix}smsContent: is required when hangUpSms=1")
    triggers = ("feedbackPush", "successPush", "failedPush", "ringPush")
    if not any(_on(fields, t) for t in triggers):
        raise ApiError(Code.SMS_TRIGGER, f"{prefix}{'/'.join(triggers)}: one must be 1")
    if _on(fields, "feedbackPush"):
        value = fields.get("feedbackValue")
        if value is None or not str(value).isdigit() or len(str(value)) != 1:
            raise ApiError(
                Code.PARAMETER, f"{prefix}feedbackValue: a key 0-9 is required when feedbackPush=1"
            )
    if _on(fields, "successPush") and fields.get("successPushTime") is None:
        raise ApiError(Code.PARAMETER, f"{prefix}successPushTime: is required when successPush=1")


def check_seat(fields: Mapping[str, Any], prefix: str = "", *, node: bool = False) -> None:
    """toSeat=1 needs the agent group, the dialing ratio and the transfer condition; a recall
    node (page 000) also needs delayTransfer when the transfer is by key.

    The agent group (sipGroupId) is not looked up: agent groups arrive with the call center.
    """
    if not _on(fields, "toSeat"):
        return
    for name in ("sipGroupId", "outboundControl", "calloutRate", "toSeatType"):
        if fields.get(name) is None:
            raise ApiError(Code.PARAMETER, f"{prefix}{name}: is required when toSeat=1")
    if fields.get("toSeatType") == 2:
        key = fields.get("toSeatKey")
        if key is None or not str(key).isdigit():
            raise ApiError(
                Code.PARAMETER, f"{prefix}toSeatKey: a key 0-9 is required when toSeatType=2"
            )
        if node and fields.get("delayTransfer") is None:
            raise ApiError(Code.PARAMETER, f"{prefix}delayTransfer: is required when toSeatType=2")


def check_node(fields: Mapping[str, Any], prefix: str) -> None:
    """A recall node of a normal task (page 000): source, hangUpSms and toSeat are required,
    then the task's own rules apply (without smsAppId: a node uses the task's SMS app)."""
    for name in ("source", "hangUpSms", "toSeat"):
        if fields.get(name) is None:
            raise ApiError(Code.PARAMETER, f"{prefix}{name}: is required in a recall node")
    check_prompt(fields, prefix)
    check_sms(fields, prefix, needs_app=False)
    check_seat(fields, prefix, node=True)


def check_times(fields: Mapping[str, Any], zone_name: str) -> datetime | None:
    """sendTime "yyyy-MM-dd HH:mm:ss" (in the task's zone) and "HH:mm" windows, else -11."""
    try:
        schedule.parse_windows(fields.get("allowSendTime"))
    except schedule.BadWindow as bad:
        raise ApiError(Code.TIME_FORMAT, str(bad)) from None
    raw = fields.get("sendTime")
    if not raw:
        return None
    try:
        return schedule.parse_send_time(str(raw), zone_name)
    except ValueError:
        raise ApiError(Code.TIME_FORMAT, f"sendTime: {raw!r} is not yyyy-MM-dd HH:mm:ss") from None


def variables_used(*templates: str | None) -> set[str]:
    """The ${textN} names the templates use."""
    used: set[str] = set()
    for t in templates:
        if t:
            used.update(_VAR.findall(t))
    return used


def check_variables(
    needed: set[str], infos: Iterable[Mapping[str, Any] | None], field: str
) -> None:
    """Every callee must give each variable a template uses (-22 naming the callee)."""
    if not needed:
        return
    names = sorted(needed)
    infos = infos if isinstance(infos, list) else list(infos)
    # the common case, every callee giving every variable, in one C-level pass per name; a
    # callee without infos (None) or a missing variable leaves it to the loop, which names
    # the first
    try:
        if all(all(map(dict.get, infos, repeat(name))) for name in names):
            return
    except TypeError:
        pass
    for i, info in enumerate(infos):
        for name in names:
            if not info or not info.get(name):
                raise ApiError(
                    Code.PARAMETER,
                    f"{field}[{i}].{name}: is required because the template uses ${{{name}}}",
                )
