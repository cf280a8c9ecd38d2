"""A task's settings, typed: built from the stored `params` dict by `from_params`, the one place
outside `api/` that knows the vendor's camelCase setting names. The agent group settings a
transfer follows (a group's stored basicSetting) are read here too, by `group_settings`.

Why the names live here: the database stores a task's settings (`tasks.params`) as the vendor
sent them (camelCase keys, the request's own values), so that `detail` and `resend` can give them
back unchanged and a new optional field needs no migration. Every reader (the dialer, the
services) takes a `TaskSettings` instead of reading keys. `to_params` is the inverse, used where a
settings object must be stored again (the recorder's spill file); `from_params(to_params(s)) == s`.

Values were validated when the API stored them; a value that is still unreadable (a row edited by
hand, an older version's data) falls back to the field's default instead of stopping the dialer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from voxcast.domain import aivoice_tasks as ai
from voxcast.domain.amd import AmdAction
from voxcast.domain.callresult import CallFacts
from voxcast.domain.schedule import BadWindow, Window, parse_windows

#: sendCode's recallInterval and an AiVoice task's redialInterval when none is given (minutes)
DEFAULT_REDIAL_MINUTES = 5
#: an AiVoice task's redialTimes when redial is on and no number is given
DEFAULT_REDIALS = 1
#: allowSendTimeZone's value for windows read in each callee's local time (voxcast extension)
PER_CALLEE = "callee"
#: an agent group's timeoutWaitSec when none is given (seconds)
DEFAULT_WAIT_S = 30.0
#: an agent group's timeoutTransferSec when none is given (seconds)
DEFAULT_RING_S = 20.0


@dataclass(frozen=True)
class SendWindow:
    """allowSendTime and allowSendTimeZone: when the task may dial, in which zone."""

    #: no window: any time of day
    windows: tuple[Window, ...] = ()
    #: an IANA zone given for the task; None: the account's zone
    zone: str | None = None
    #: windows apply in each callee's local time (from the number's country)
    per_callee: bool = False

    def zone_name(self, account_timezone: str) -> str:
        """The zone the task's windows and sendTime are read in."""
        return self.zone or account_timezone


@dataclass(frozen=True)
class TransferSettings:
    """toSeat and its companions: hand answered callees to an agent group."""

    #: toSeat=1
    to_seat: bool = False
    #: sipGroupId (or the older voiceGroupId)
    group_id: int | None = None
    #: toSeatType: 1 transfer on answer, 2 on a key press
    mode: int = 1
    #: toSeatKey: the key of mode 2
    key: str | None = None
    #: delayTransfer: seconds of prompt before the transfer
    delay_s: float = 0.0
    #: outboundControl=1: dial in proportion to the free agents
    proportional: bool = False
    #: calloutRate as given (calls per free agent); None when not given
    callout_rate: int | None = None

    @property
    def group(self) -> int | None:
        """The agent group calls are transferred to; None when the task does not transfer."""
        return self.group_id if self.to_seat else None

    @property
    def ratio(self) -> float:
        """Calls per free agent of a proportional task (1 when not given)."""
        return float(self.callout_rate or 1)


@dataclass(frozen=True)
class RedialSettings:
    """Extra attempts of a failed call: sendCode's recallCount and recallInterval, or an AiVoice
    task's redialTimes, redialInterval and redialCondition."""

    count: int = 0
    interval: timedelta = timedelta(minutes=DEFAULT_REDIAL_MINUTES)
    #: the results (`resultStatus`, B.13) dialed again: an AiVoice task's redialCondition;
    #: None: every call not answered (sendCode's rule)
    conditions: frozenset[str] | None = None

    def again(self, attempt: int, facts: CallFacts) -> bool:
        """Whether a number is dialed again after its `attempt`-th call (1 the first) ended as
        `facts` said."""
        if attempt > self.count:
            return False
        if self.conditions is None:
            return not facts.answered
        result = ai.call_result(facts.answered, facts.reported_sip_code, facts.conversation)
        return result in self.conditions


@dataclass(frozen=True)
class PromptSettings:
    """What a call plays and in which voice. The voice fields are kept as given: the TTS layer
    (audio.voices.parse_request) checks them and a bad one fails the task with its reason."""

    #: source: 1 uploaded file, 2 upload now, 3 text-to-speech
    source: int | None = None
    voice_file_id: str | None = None
    upload_name: str | None = None
    text: str | None = None
    #: `lan` as given (group calls)
    lan: str | None = None
    #: `language` (sendCode)
    language: str | None = None
    accent: str | int | None = None
    gender: int | str | None = None
    speaking_rate: float | str | None = None

    @property
    def voice_language(self) -> str | None:
        return self.lan or self.language


@dataclass(frozen=True)
class SmsSettings:
    """hangUpSms: one SMS after the call when a trigger holds."""

    enabled: bool = False
    content: str | None = None
    app_id: str | None = None
    sender_id: str | None = None
    on_feedback: bool = False
    #: the key (0-9) that fires the feedback SMS
    feedback_value: str | None = None
    on_success: bool = False
    #: seconds after the hang-up the success SMS waits
    success_delay_s: int = 0
    on_failure: bool = False
    on_ring: bool = False


@dataclass(frozen=True)
class PreviewSettings:
    """A call-center preview task's list and labels (cc/preview/submitTask)."""

    #: previewType: 0 automatic, 1 to agent
    kind: int | None = None
    #: voiceGroupIds: every agent group named at submission (the first one takes the calls)
    group_ids: tuple[int, ...] = ()
    file_name: str | None = None
    file_path: str | None = None
    ccode: str | None = None
    remark: str | None = None


@dataclass(frozen=True)
class PhoneSettings:
    """A click-to-call's phone (voice/sendSip): the seat rung first, by its account, with the
    group and phone names its record keeps as they were when the call was placed."""

    seat_id: int | None = None
    account: str | None = None
    group_name: str | None = None
    phone_name: str | None = None


@dataclass(frozen=True)
class TaskSettings:
    send_window: SendWindow = field(default_factory=SendWindow)
    transfer: TransferSettings = field(default_factory=TransferSettings)
    redial: RedialSettings = field(default_factory=RedialSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    preview: PreviewSettings = field(default_factory=PreviewSettings)
    phone: PhoneSettings = field(default_factory=PhoneSettings)
    #: the key a callee presses to be put on the do-not-call list (optOutKey, an extension)
    opt_out_key: str | None = None
    #: what the callee hears after pressing it (optOutText, an extension; None: the default
    #: sentence in the task's language, `voxcast.domain.optout`)
    opt_out_text: str | None = None
    #: answering-machine detection (amd, an extension) and what a machine gets (amdAction)
    amd: bool = False
    amd_action: AmdAction = AmdAction.HANG_UP
    #: record each answered call (an AI task's enableRecording)
    record: bool = False

    def without_redials(self) -> TaskSettings:
        """The same settings with no extra attempt (a lost call is final)."""
        return replace(self, redial=replace(self.redial, count=0))


@dataclass(frozen=True)
class GroupSettings:
    """An agent group's basicSetting, as calls transferred to the group follow it."""

    #: timeoutWaitSec: how long a callee waits for a free agent
    wait_s: float = DEFAULT_WAIT_S
    #: timeoutTransferSec: how long an agent's phone rings
    ring_s: float = DEFAULT_RING_S
    #: wrapUpTime: seconds after a call before the agent is offered another
    wrap_up_s: float = 0.0


# -- parsing ------------------------------------------------------------------------------------


def _flag(value: Any) -> bool:
    """A vendor 0/1 switch: 1 or "1" is on, anything else off."""
    return str(value if value is not None else "0") == "1"


def _int(value: Any, default: int) -> int:
    """An integer setting; missing, 0, empty and unreadable values give `default` (the vendor's
    `x or default` reading: 0 is not a meaningful value of these settings)."""
    if not value:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _optional_int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any, default: float) -> float:
    if not value:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str | None:
    """A text whose empty value means "not given"."""
    return None if value is None or value == "" else str(value)


def _str(value: Any) -> str | None:
    """A text kept as given (an empty one too: it is echoed and copied as it was stored)."""
    return None if value is None else str(value)


def _switch(value: Any) -> bool:
    """A JSON Boolean (an AiVoice task's `redial`), or a 0/1 switch."""
    return value is True or (not isinstance(value, bool) and _flag(value))


def _redial(p: Mapping[str, Any]) -> RedialSettings:
    """An AiVoice task's redial fields (`redial` present), else sendCode's recall fields."""
    if "redial" not in p:
        return RedialSettings(
            count=_int(p.get("recallCount"), 0),
            interval=timedelta(minutes=_int(p.get("recallInterval"), DEFAULT_REDIAL_MINUTES)),
        )
    raw = p.get("redialCondition")
    named = raw if isinstance(raw, Sequence) and not isinstance(raw, str) else ()
    conditions = frozenset(str(c) for c in named if c in ai.REDIAL_CONDITIONS)
    times = _optional_int(p.get("redialTimes"))
    return RedialSettings(
        # redialTimes 0 is no redial, not "the default"
        count=max(0, DEFAULT_REDIALS if times is None else times) if _switch(p["redial"]) else 0,
        interval=timedelta(minutes=_int(p.get("redialInterval"), DEFAULT_REDIAL_MINUTES)),
        conditions=conditions or ai.DEFAULT_REDIAL_CONDITIONS,
    )


def _windows(raw: Any) -> tuple[Window, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    if not all(isinstance(w, Mapping) for w in raw):
        return ()
    try:
        return tuple(parse_windows(raw))
    except BadWindow:
        return ()  # stored windows were checked on the way in: an unreadable one means none


def _group_ids(raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    return tuple(i for i in (_optional_int(v) for v in raw) if i is not None)


def from_params(params: Mapping[str, Any] | None) -> TaskSettings:
    """The typed settings of a stored `params` dict (camelCase, as the vendor names them)."""
    p = params or {}
    zone = str(p.get("allowSendTimeZone") or "")
    per_callee = zone.lower() == PER_CALLEE
    group = p.get("sipGroupId") or p.get("voiceGroupId")
    key = p.get("toSeatKey")
    return TaskSettings(
        send_window=SendWindow(
            windows=_windows(p.get("allowSendTime")),
            zone=zone if zone and not per_callee else None,
            per_callee=per_callee,
        ),
        transfer=TransferSettings(
            to_seat=_flag(p.get("toSeat")),
            group_id=_optional_int(group) if group else None,
            mode=_int(p.get("toSeatType"), 1),
            key=None if key in (None, "") else str(key),
            delay_s=_float(p.get("delayTransfer"), 0.0),
            proportional=_flag(p.get("outboundControl")),
            callout_rate=_optional_int(p.get("calloutRate")),
        ),
        redial=_redial(p),
        prompt=PromptSettings(
            source=_optional_int(p.get("source")),
            voice_file_id=_str(p.get("voiceFileId")),
            upload_name=_str(p.get("uploadName")),
            text=_str(p.get("text")),
            lan=_str(p.get("lan")),
            language=_str(p.get("language")),
            accent=p.get("accent"),
            gender=p.get("ssmlGender"),
            speaking_rate=p.get("speakingRate"),
        ),
        sms=SmsSettings(
            enabled=_flag(p.get("hangUpSms")),
            content=_text(p.get("smsContent")),
            app_id=_str(p.get("smsAppId")),
            sender_id=_str(p.get("senderId")),
            on_feedback=_flag(p.get("feedbackPush")),
            feedback_value=_text(p.get("feedbackValue")),
            on_success=_flag(p.get("successPush")),
            success_delay_s=_int(p.get("successPushTime"), 0),
            on_failure=_flag(p.get("failedPush")),
            on_ring=_flag(p.get("ringPush")),
        ),
        preview=PreviewSettings(
            kind=_optional_int(p.get("previewType")),
            group_ids=_group_ids(p.get("voiceGroupIds")),
            file_name=_str(p.get("fileName")),
            file_path=_str(p.get("filePath")),
            ccode=_str(p.get("ccode")),
            remark=_str(p.get("remark")),
        ),
        phone=PhoneSettings(
            seat_id=_optional_int(p.get("seatId")),
            account=_str(p.get("account")),
            group_name=_str(p.get("sipGroupName")),
            phone_name=_str(p.get("phoneName")),
        ),
        opt_out_key=_text(p.get("optOutKey")),
        opt_out_text=_text(p.get("optOutText")),
        amd=_flag(p.get("amd")),
        amd_action=AmdAction.VOICEMAIL_DROP if _flag(p.get("amdAction")) else AmdAction.HANG_UP,
        record=_flag(p.get("enableRecording")),
    )


def _hhmm(w: Window) -> dict[str, str]:
    return {"strTime": w.start.strftime("%H:%M"), "endTime": w.end.strftime("%H:%M")}


def to_params(settings: TaskSettings) -> dict[str, Any]:
    """The stored form of `settings` (defaults and empty values left out), such that
    `from_params(to_params(s)) == s`."""
    s = settings
    w, t, r, pr, sms, pv = s.send_window, s.transfer, s.redial, s.prompt, s.sms, s.preview
    ph = s.phone
    out: dict[str, Any] = {
        "allowSendTime": [_hhmm(x) for x in w.windows] or None,
        "allowSendTimeZone": PER_CALLEE if w.per_callee else w.zone,
        "toSeat": 1 if t.to_seat else None,
        "sipGroupId": t.group_id,
        "toSeatType": t.mode,
        "toSeatKey": t.key,
        "delayTransfer": t.delay_s or None,
        "outboundControl": 1 if t.proportional else None,
        "calloutRate": t.callout_rate,
        **_redial_params(r),
        "source": pr.source,
        "voiceFileId": pr.voice_file_id,
        "uploadName": pr.upload_name,
        "text": pr.text,
        "lan": pr.lan,
        "language": pr.language,
        "accent": pr.accent,
        "ssmlGender": pr.gender,
        "speakingRate": pr.speaking_rate,
        "hangUpSms": 1 if sms.enabled else None,
        "smsContent": sms.content,
        "smsAppId": sms.app_id,
        "senderId": sms.sender_id,
        "feedbackPush": 1 if sms.on_feedback else None,
        "feedbackValue": sms.feedback_value,
        "successPush": 1 if sms.on_success else None,
        "successPushTime": sms.success_delay_s or None,
        "failedPush": 1 if sms.on_failure else None,
        "ringPush": 1 if sms.on_ring else None,
        "previewType": pv.kind,
        "voiceGroupIds": list(pv.group_ids) or None,
        "fileName": pv.file_name,
        "filePath": pv.file_path,
        "ccode": pv.ccode,
        "remark": pv.remark,
        "seatId": ph.seat_id,
        "account": ph.account,
        "sipGroupName": ph.group_name,
        "phoneName": ph.phone_name,
        "optOutKey": s.opt_out_key,
        "optOutText": s.opt_out_text,
        "amd": 1 if s.amd else None,
        "amdAction": int(s.amd_action) or None,
        "enableRecording": 1 if s.record else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def _redial_params(r: RedialSettings) -> dict[str, Any]:
    minutes = int(r.interval.total_seconds() // 60)
    if r.conditions is None:
        return {"recallCount": r.count or None, "recallInterval": minutes}
    return {
        "redial": r.count > 0,
        "redialTimes": r.count,
        "redialInterval": minutes,
        "redialCondition": sorted(r.conditions),
    }


def group_settings(settings: Mapping[str, Any] | None) -> GroupSettings:
    """The typed settings of an agent group's stored basicSetting (camelCase, as given)."""
    g = settings or {}
    return GroupSettings(
        wait_s=_float(g.get("timeoutWaitSec"), DEFAULT_WAIT_S),
        ring_s=_float(g.get("timeoutTransferSec"), DEFAULT_RING_S),
        wrap_up_s=_float(g.get("wrapUpTime"), 0.0),
    )
