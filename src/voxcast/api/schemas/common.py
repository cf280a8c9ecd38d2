"""Fields shared by send, update, resend and recall nodes: the prompt, the hang-up SMS and the
transfer to agents. Shapes and ranges are checked here; rules that join several fields
(and answer with their own codes) are in `voxcast.services.task_rules`."""

from __future__ import annotations

from pydantic import Field

from voxcast.api.base import VendorModel

Flag = int | None


class PromptFields(VendorModel):
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


class SmsFields(VendorModel):
    hangUpSms: Flag = Field(default=None, ge=0, le=1)
    smsAppId: str | None = Field(default=None, max_length=32)
    smsContent: str | None = Field(default=None, max_length=1000)
    senderId: str | None = Field(default=None, max_length=32)
    feedbackPush: Flag = Field(default=None, ge=0, le=1)
    feedbackValue: str | None = Field(default=None, max_length=1)
    successPush: Flag = Field(default=None, ge=0, le=1)
    successPushTime: int | None = Field(default=None, ge=0, le=9999)
    failedPush: Flag = Field(default=None, ge=0, le=1)
    ringPush: Flag = Field(default=None, ge=0, le=1)


class SeatFields(VendorModel):
    toSeat: Flag = Field(default=None, ge=0, le=1)
    sipGroupId: int | None = Field(default=None, ge=1, le=2_147_483_647)
    outboundControl: int | None = Field(default=None, ge=1, le=1)
    calloutRate: int | None = Field(default=None, ge=1, le=100)
    toSeatType: int | None = Field(default=None, ge=1, le=2)
    toSeatKey: str | None = Field(default=None, max_length=1)
    delayTransfer: int | None = Field(default=None, ge=0, le=999)


class Window(VendorModel):
    strTime: str = Field(description="HH:mm")
    endTime: str = Field(description="HH:mm")


class NodeFields(PromptFields, SmsFields, SeatFields):
    """One recall round's overrides of the parent task's settings."""


class TaskFields(PromptFields, SmsFields, SeatFields):
    """Everything of a group-call task but its identity and its numbers."""

    displayNum: str | None = Field(default=None, max_length=20, pattern=r"^[0-9]*$")
    sendTime: str | None = Field(default=None, description='"yyyy-MM-dd HH:mm:ss" or null')
    allowSendTime: list[Window] | None = Field(default=None, max_length=3)
    loopCount: int | None = Field(default=None, ge=1, le=9)
    maxCalls: int | None = Field(default=None, ge=1, le=999)
    maxRingingTime: int | None = Field(default=None, ge=20, le=120)
    delayPlay: int | None = Field(default=None, ge=0, le=999)
    delayHangup: int | None = Field(default=None, ge=0, le=999)
    allowSendTimeZone: str | None = Field(
        default=None,
        max_length=64,
        description='voxcast extension: "callee" for each callee\'s local time, or an IANA zone',
    )
