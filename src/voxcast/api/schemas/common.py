"""Fields shared by send, update, resend and recall nodes: the prompt, the hang-up SMS, the
transfer to agents and the schedule. Shapes and ranges are checked here; rules that join several
fields (and answer with their own codes) are in `voxcast.services.task_rules`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from voxcast.api.base import Int32, VendorModel, storable_text
from voxcast.domain.schedule import MAX_WINDOWS, known_zone

#: a 0/1 switch (hangUpSms, feedbackPush, toSeat, ...)
Flag = Annotated[int | None, Field(default=None, ge=0, le=1)]
TaskName = Annotated[str, Field(min_length=2, max_length=64, description="2-64, unique")]
AppId = Annotated[str, Field(min_length=1, max_length=32)]
CalloutRate = Annotated[int | None, Field(default=None, ge=1, le=100)]
MaxCalls = Annotated[int, Field(ge=1, le=999, description="seconds of talk before hang-up")]
LoopCount = Annotated[int, Field(ge=1, le=9, description="times the prompt is played")]
Source = Annotated[int, Field(ge=1, le=3, description="1 uploaded file, 2 upload now, 3 TTS")]


class Fields(VendorModel):
    """Base of every task model: no string may hold what the database cannot store (NUL,
    lone surrogates), so such input is -22 naming the field instead of a driver error."""

    _storable = field_validator("*", mode="before")(storable_text)


class PromptFields(Fields):
    source: int | None = Field(
        default=None, ge=1, le=3, description="1 uploaded file, 2 upload now, 3 text-to-speech"
    )
    voiceFileId: str | None = Field(default=None, max_length=64)
    uploadName: str | None = Field(default=None, min_length=5, max_length=32)
    baseFile: str | None = Field(default=None, description="base64 of the audio file")
    text: str | None = Field(default=None, max_length=1000)
    lan: str | None = Field(default=None, max_length=8)
    speakingRate: float | None = Field(default=None, ge=0.25, le=4)
    ssmlGender: int | None = Field(default=None, ge=1, le=2)
    accent: str | None = Field(default=None, max_length=16)


class SmsFields(Fields):
    hangUpSms: Flag
    smsAppId: str | None = Field(default=None, max_length=32)
    smsContent: str | None = Field(default=None, max_length=1000)
    senderId: str | None = Field(default=None, max_length=32)
    feedbackPush: Flag
    feedbackValue: str | None = Field(default=None, max_length=1)
    successPush: Flag
    successPushTime: int | None = Field(default=None, ge=0, le=9999)
    failedPush: Flag
    ringPush: Flag


class SeatFields(Fields):
    toSeat: Flag
    # agent groups arrive with the call center; until then any id is taken as given
    sipGroupId: int | None = Field(default=None, ge=1, le=2_147_483_647)
    outboundControl: int | None = Field(default=None, ge=1, le=1)
    calloutRate: CalloutRate
    toSeatType: int | None = Field(default=None, ge=1, le=2)
    toSeatKey: str | None = Field(default=None, max_length=1)
    delayTransfer: int | None = Field(default=None, ge=0, le=999)


class Window(Fields):
    strTime: str = Field(description="HH:mm")
    endTime: str = Field(description="HH:mm; not after strTime means the window crosses midnight")


class ScheduleFields(Fields):
    """When and how a task dials: shared by normal and AI tasks."""

    displayNum: str | None = Field(default=None, max_length=20, pattern=r"^[0-9]*$")
    sendTime: str | None = Field(default=None, description='"yyyy-MM-dd HH:mm:ss" or null')
    allowSendTime: list[Window] | None = Field(default=None, max_length=MAX_WINDOWS)
    allowSendTimeZone: str | None = Field(
        default=None,
        max_length=64,
        description='voxcast extension: "callee" for each callee\'s local time, or an IANA zone',
    )
    maxRingingTime: int | None = Field(default=None, ge=20, le=120)
    maxCalls: int | None = Field(default=None, ge=1, le=999)
    optOutKey: str | None = Field(
        default=None,
        pattern=r"^[0-9*#]$",
        description="voxcast extension: the key that puts the callee on the do-not-call list",
    )
    optOutText: str | None = Field(
        default=None,
        max_length=1000,
        description="voxcast extension: what the callee hears after the optOutKey, spoken in "
        "the task's language (default: a short sentence in it)",
    )

    @field_validator("allowSendTimeZone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        # an unknown name would silently dial in UTC, hours outside the caller's windows
        if not value or value.lower() == "callee" or known_zone(value):
            return value
        raise ValueError(f'{value!r} is not "callee" or an IANA time zone such as "Asia/Kolkata"')


class AmdFields(Fields):
    """Answering-machine detection, a voxcast extension every dialing task type accepts."""

    amd: int | None = Field(
        default=None,
        ge=0,
        le=1,
        description="voxcast extension: 1 = answering-machine detection on each answered call",
    )
    amdAction: int | None = Field(
        default=None,
        ge=0,
        le=1,
        description="voxcast extension, with amd=1: what a machine gets: 0 = hung up on at "
        "once, 1 = voicemail drop (the message once, after the greeting's beep)",
    )


class NodeFields(PromptFields, SmsFields, SeatFields):
    """One recall round's overrides of the parent task's settings (scriptId for AI tasks)."""

    scriptId: Int32 | None = None


class TaskFields(PromptFields, SmsFields, SeatFields, ScheduleFields, AmdFields):
    """Everything of a group-call task but its identity and its numbers."""

    loopCount: int | None = Field(default=None, ge=1, le=9)
    delayPlay: int | None = Field(default=None, ge=0, le=999)
    delayHangup: int | None = Field(default=None, ge=0, le=999)


class AiFields(ScheduleFields, AmdFields):
    """Everything of an AI (speech template) task but its identity, script and numbers."""

    enableRecording: Flag
    calloutRate: CalloutRate
    # the vendor's AI calls have no SMS fields; these two say how the script's `sms` texts go
    smsAppId: str | None = Field(
        default=None,
        max_length=32,
        description="voxcast extension: the SMS app id kept with the script's `sms` texts",
    )
    senderId: str | None = Field(
        default=None,
        max_length=32,
        description="voxcast extension: the sender id of the script's `sms` texts",
    )
