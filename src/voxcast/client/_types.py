"""Request bodies of the endpoints, as TypedDicts with the vendor's camelCase field names, so
SDK calls are checked by a type checker: `client.send_group_call(appId=..., taskName=...)`."""

from __future__ import annotations

from typing import Any, TypedDict


class NumberInfo(TypedDict, total=False):
    calleeNumber: str
    text1: str
    text2: str
    text3: str
    text4: str
    text5: str
    text6: str
    text7: str
    text8: str
    text9: str
    text10: str


class Window(TypedDict):
    strTime: str
    endTime: str


class Prompt(TypedDict, total=False):
    source: int
    voiceFileId: str
    uploadName: str
    baseFile: str
    text: str
    lan: str
    speakingRate: float
    ssmlGender: int
    accent: str


class HangUpSms(TypedDict, total=False):
    hangUpSms: int
    smsAppId: str
    smsContent: str
    senderId: str
    feedbackPush: int
    feedbackValue: str | int
    successPush: int
    successPushTime: int
    failedPush: int
    ringPush: int


class ToSeat(TypedDict, total=False):
    toSeat: int
    sipGroupId: int
    outboundControl: int
    calloutRate: int
    toSeatType: int
    toSeatKey: str | int
    delayTransfer: int


class TaskSettings(Prompt, HangUpSms, ToSeat, total=False):
    displayNum: str
    sendTime: str
    allowSendTime: list[Window]
    allowSendTimeZone: str
    loopCount: int
    maxCalls: int
    maxRingingTime: int
    delayPlay: int
    delayHangup: int


class RecallFlow(TypedDict, total=False):
    recallType: int
    recallInterval: int
    recallNum: int
    nodeList: list[dict[str, Any]]


class GroupCallSend(TaskSettings, total=False):
    appId: str
    taskName: str
    numberInfoList: list[NumberInfo]
    numberList: list[str]
    recallFlow: RecallFlow


class AiSettings(TypedDict, total=False):
    displayNum: str
    sendTime: str
    allowSendTime: list[Window]
    maxRingingTime: int
    maxCalls: int
    enableRecording: int
    calloutRate: int
    scriptId: int


class GroupCallSendAI(AiSettings, total=False):
    appId: str
    taskName: str
    numberInfoList: list[NumberInfo]
    numberList: list[str]
    recallFlow: RecallFlow


class GroupCallUpdate(TaskSettings, total=False):
    keyId: int
    taskName: str
    appId: str
    numberInfoList: list[NumberInfo]
    numberList: list[str]


class GroupCallUpdateAI(AiSettings, total=False):
    keyId: int
    taskName: str
    numberInfoList: list[NumberInfo]
    numberList: list[str]


class GroupCallResend(TaskSettings, total=False):
    keyId: int
    taskName: str
    resendType: int
    appId: str


class GroupCallResendAI(AiSettings, total=False):
    keyId: int
    taskName: str
    resendType: int


class TaskQueryParams(TypedDict, total=False):
    strTime: str
    endTime: str
    statusList: list[int]
    idxAppId: str
    searchCondition: str
    taskType: int


class RecallUpdate(TypedDict, total=False):
    keyId: int
    recallInterval: int
    recallNum: int
    recallType: int
    nodeList: list[dict[str, Any]]


class RecallQueryParams(TypedDict, total=False):
    strTime: str
    endTime: str
    taskName: str


class SendCode(TypedDict, total=False):
    callee: str
    displayNum: str
    language: str
    speakingRate: float
    ssmlGender: int
    accent: str
    text: str
    appId: str
    loopCount: int
    calledInfo: str
    recallCount: int
    recallInterval: int
    maxDuration: int
    maxRingingTime: int
    delayPlay: int
    delayHangup: int


class SendGroup(TypedDict, total=False):
    callee: str
    displayNum: str
    fileId: str
    appId: str
    maxDuration: int
    maxRingingTime: int
    loopCount: int
    calledInfo: str


class RecordQueryParams(TypedDict, total=False):
    strTime: str
    endTime: str
    taskId: int


class SendSip(TypedDict, total=False):
    callee: str
    displayNum: str
    account: str
    appId: str
    calledInfo: str


class SipRecordQueryParams(TypedDict, total=False):
    strTime: str
    endTime: str
    sipGroupName: str
    phoneName: str
