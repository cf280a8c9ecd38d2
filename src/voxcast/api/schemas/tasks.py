"""Group-call task and recall-flow requests: send (normal and AI), update, resend, query,
status changes, and the recallFlow endpoints."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from voxcast.api.base import CalleeText, Id, Int32, IntentName, PageQuery
from voxcast.api.schemas.common import (
    AiFields,
    AppId,
    Fields,
    LoopCount,
    MaxCalls,
    NodeFields,
    Source,
    TaskFields,
    TaskName,
)

PHONE = r"^[0-9]{7,15}$"
PHONE_AI = r"^[0-9]{6,18}$"
_NUMBER_CONFIG = ConfigDict(coerce_numbers_to_str=True, str_strip_whitespace=True)


class _Texts(TypedDict):
    """text1..text10 of a callee: each replaces ${textN}; over 30 characters is cut."""

    text1: NotRequired[CalleeText | None]
    text2: NotRequired[CalleeText | None]
    text3: NotRequired[CalleeText | None]
    text4: NotRequired[CalleeText | None]
    text5: NotRequired[CalleeText | None]
    text6: NotRequired[CalleeText | None]
    text7: NotRequired[CalleeText | None]
    text8: NotRequired[CalleeText | None]
    text9: NotRequired[CalleeText | None]
    text10: NotRequired[CalleeText | None]


# TypedDicts, not models: pydantic validates 100,000 of them in C without making objects
class NumberInfo(_Texts):
    """A callee: country code + number, 7-15 digits, and its text variables."""

    __pydantic_config__ = _NUMBER_CONFIG  # type: ignore[misc]
    calleeNumber: Annotated[str, StringConstraints(pattern=PHONE)]


class NumberInfoAI(_Texts):
    """A callee of an AI task: 6-18 digits."""

    __pydantic_config__ = _NUMBER_CONFIG  # type: ignore[misc]
    calleeNumber: Annotated[str, StringConstraints(pattern=PHONE_AI)]


class RecallFlowSpec(Fields):
    """`recallFlow` inside send: rounds run after the task finishes (recallFlow/update's
    fields without keyId)."""

    recallType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed")
    recallInterval: int = Field(ge=1, le=1440, description="minutes between rounds")
    recallNum: int = Field(ge=1, le=10, description="number of rounds")
    nodeList: list[NodeFields] | None = Field(default=None, max_length=10)
    recallIntent: list[IntentName] | None = Field(default=None, max_length=20)


class _Numbers(Fields):
    """numberInfoList (objects, ≤100,000) or the old numberList (strings, ≤200,000)."""

    numberInfoList: list[NumberInfo] | None = None
    numberList: list[str] | None = None


class _NumbersAI(Fields):
    numberInfoList: list[NumberInfoAI] | None = None
    numberList: list[str] | None = None


class GroupCallSend(TaskFields, _Numbers):
    appId: AppId
    taskName: TaskName
    source: Source
    loopCount: LoopCount
    maxCalls: MaxCalls
    recallFlow: RecallFlowSpec | None = None


class GroupCallSendAI(AiFields, _NumbersAI):
    appId: AppId
    taskName: TaskName
    scriptId: Int32 = Field(description="AI speech template id")
    recallFlow: RecallFlowSpec | None = None


class GroupCallUpdate(TaskFields, _Numbers):
    keyId: Id
    taskName: TaskName
    source: Source
    appId: str | None = Field(default=None, max_length=32)


class GroupCallUpdateAI(AiFields, _NumbersAI):
    keyId: Id
    taskName: TaskName
    scriptId: Int32


class GroupCallResend(TaskFields):
    keyId: Id
    taskName: TaskName
    resendType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed ones")
    appId: str | None = Field(default=None, max_length=32)


class GroupCallResendAI(AiFields):
    keyId: Id
    taskName: TaskName
    resendType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed ones")
    scriptId: Int32


class TaskQueryParams(Fields):
    strTime: str | None = None
    endTime: str | None = None
    statusList: list[Int32] | None = Field(default=None, max_length=10)
    idxAppId: str | None = Field(default=None, max_length=32)
    searchCondition: str | None = Field(default=None, max_length=200)
    taskType: int | None = Field(default=None, ge=1, le=3)


class TaskQuery(PageQuery):
    params: TaskQueryParams | None = None


class TaskIds(Fields):
    """`{"jobIdList":[...]}` (pause) or `{"taskIdList":[...]}` (cancel); either is accepted."""

    jobIdList: list[Id] | None = Field(default=None, max_length=1000)
    taskIdList: list[Id] | None = Field(default=None, max_length=1000)


class RecallUpdate(Fields):
    keyId: Id
    recallInterval: int = Field(ge=1, le=1440)
    recallNum: int = Field(ge=1, le=10)
    recallType: int = Field(ge=0, le=1)
    nodeList: list[NodeFields] | None = Field(default=None, max_length=10)
    recallIntent: list[IntentName] | None = Field(default=None, max_length=20)


class RecallQueryParams(Fields):
    strTime: str | None = None
    endTime: str | None = None
    taskName: str | None = Field(default=None, max_length=64)


class RecallQuery(PageQuery):
    params: RecallQueryParams | None = None


class RecallDetailQuery(Fields):
    keyId: Id


class RecallCancel(Fields):
    type: int = Field(ge=1, le=3, description="1 flow keyId, 2 parent taskId, 3 node keyId")
    id: Id
