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
#: the single-call requests' fields (voice/sendCode, voice/sendVoice)
CallAppId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="Application id: the app the request acts in, one of the calling account's",
    ),
]
MaxDuration = Annotated[
    int | None,
    Field(ge=1, le=120, description="Seconds after the answer at which the call is hung up, 1-120"),
]
MaxRingingTime = Annotated[
    int,
    Field(
        ge=20,
        le=120,
        description=(
            "Seconds the callee's phone may ring before the call is given up, 20-120 (default 60)"
        ),
    ),
]


#: the voice fields every TTS request shares (sendCode, group calls, recall nodes)
SpeakingRate = Annotated[
    float | None,
    Field(ge=0.25, le=4, description="Speaking rate of the voice, 0.25-4 (1 is normal)"),
]
SsmlGender = Annotated[int | None, Field(ge=1, le=2, description="Voice gender: 1 male, 2 female")]
Accent = Annotated[
    str | None,
    Field(
        max_length=16, description="Accent code of the voice (the vendor's accent table, e.g. 91)"
    ),
]


class Fields(VendorModel):
    """Base of every task model: no string may hold what the database cannot store (NUL,
    lone surrogates), so such input is -22 naming the field instead of a driver error."""

    _storable = field_validator("*", mode="before")(storable_text)


class PromptFields(Fields):
    source: int | None = Field(
        default=None, ge=1, le=3, description="1 uploaded file, 2 upload now, 3 text-to-speech"
    )
    voiceFileId: str | None = Field(
        default=None,
        max_length=64,
        description="Id of an uploaded voice file (fileUpload's answer); with source=1",
    )
    uploadName: str | None = Field(
        default=None,
        min_length=5,
        max_length=32,
        description=(
            "File name of the audio sent in baseFile, 5-32 characters with its "
            "extension; with source=2"
        ),
    )
    baseFile: str | None = Field(default=None, description="base64 of the audio file")
    text: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "Text read to the callee by text-to-speech, at most 1000 characters; "
            "may hold ${text1}..${text10}"
        ),
    )
    lan: str | None = Field(
        default=None,
        max_length=8,
        description="Language code of the text (see the vendor's language table, e.g. EN, VN)",
    )
    speakingRate: SpeakingRate = None
    ssmlGender: SsmlGender = None
    accent: Accent = None


class SmsFields(Fields):
    hangUpSms: Flag = Field(
        description=(
            "1 to send an SMS after the call (then at least one of feedbackPush, "
            "successPush, failedPush, ringPush must be 1)"
        )
    )
    smsAppId: str | None = Field(
        default=None, max_length=32, description="SMS application id the hang-up SMS is sent with"
    )
    smsContent: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "Text of the hang-up SMS, at most 1000 characters; may hold ${text1}..${text10}"
        ),
    )
    senderId: str | None = Field(
        default=None, max_length=32, description="Sender id of the SMS, at most 32 characters"
    )
    feedbackPush: Flag = Field(
        description="1 to send the SMS when the callee presses the feedbackValue key"
    )
    feedbackValue: str | None = Field(
        default=None,
        max_length=1,
        description="The key (0-9) that triggers the SMS with feedbackPush=1",
    )
    successPush: Flag = Field(description="1 to send the SMS when the call is answered")
    successPushTime: int | None = Field(
        default=None,
        ge=0,
        le=9999,
        description="Seconds after the answer at which the success SMS is sent, 0-9999",
    )
    failedPush: Flag = Field(description="1 to send the SMS when the call fails")
    ringPush: Flag = Field(description="1 to send the SMS when the callee's phone rings")


class SeatFields(Fields):
    toSeat: Flag = Field(
        description="1 to transfer the answered callee to a human agent (call center)"
    )
    # agent groups arrive with the call center; until then any id is taken as given
    sipGroupId: int | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="Agent group the callee is transferred to (a voiceGroupId); with toSeat=1",
    )
    outboundControl: int | None = Field(
        default=None,
        ge=1,
        le=1,
        description="1 = proportional dialing: calls placed per idle agent (with toSeat=1)",
    )
    calloutRate: CalloutRate = Field(
        description="Calls placed per idle agent (the outbound multiplier), 1-100"
    )
    toSeatType: int | None = Field(
        default=None,
        ge=1,
        le=2,
        description=(
            "When the callee is transferred: 1 after the prompt ends, 2 when toSeatKey is pressed"
        ),
    )
    toSeatKey: str | None = Field(
        default=None,
        max_length=1,
        description="Key (0-9) that transfers the callee, with toSeatType=2",
    )
    delayTransfer: int | None = Field(
        default=None,
        ge=0,
        le=999,
        description="Seconds after the answer before toSeatKey transfers, 0-999",
    )


class Window(Fields):
    strTime: str = Field(description="HH:mm")
    endTime: str = Field(description="HH:mm; not after strTime means the window crosses midnight")


class ScheduleFields(Fields):
    """When and how a task dials: shared by normal and AI tasks."""

    displayNum: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^[0-9]*$",
        description="Caller id shown to callees, 0-20 digits",
    )
    sendTime: str | None = Field(default=None, description='"yyyy-MM-dd HH:mm:ss" or null')
    allowSendTime: list[Window] | None = Field(
        default=None,
        max_length=MAX_WINDOWS,
        description="Daily windows calls may be made in, at most 3 of {strTime, endTime}",
    )
    allowSendTimeZone: str | None = Field(
        default=None,
        max_length=64,
        description='voxcast extension: "callee" for each callee\'s local time, or an IANA zone',
    )
    maxRingingTime: int | None = Field(
        default=None,
        ge=20,
        le=120,
        description=(
            "Seconds the callee's phone may ring before the call is given up, 20-120 (default 60)"
        ),
    )
    maxCalls: int | None = Field(
        default=None,
        ge=1,
        le=999,
        description="Seconds of talk after which the call is hung up, 1-999",
    )
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

    scriptId: Int32 | None = Field(
        default=None, description="AI tasks: the speech template this round uses"
    )


class TaskFields(PromptFields, SmsFields, SeatFields, ScheduleFields, AmdFields):
    """Everything of a group-call task but its identity and its numbers."""

    loopCount: int | None = Field(
        default=None, ge=1, le=9, description="Times the prompt is played, 1-9"
    )
    delayPlay: int | None = Field(
        default=None,
        ge=0,
        le=999,
        description="Seconds after the answer before the prompt plays, 0-999",
    )
    delayHangup: int | None = Field(
        default=None, ge=0, le=999, description="Seconds after the prompt before hanging up, 0-999"
    )


class AiFields(ScheduleFields, AmdFields):
    """Everything of an AI (speech template) task but its identity, script and numbers."""

    enableRecording: Flag = Field(description="1 to record each answered call")
    calloutRate: CalloutRate = Field(
        description="Outbound multiplier of the task (default 1), 1-100"
    )
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
