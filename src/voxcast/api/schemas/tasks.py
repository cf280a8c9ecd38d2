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


#: text1..text10 of a callee
Var = Annotated[
    CalleeText | None,
    Field(
        description="A variable of this callee: replaces ${textN} (N its number, 1-10) in the "
        "text and the hang-up SMS; cut to 30 characters"
    ),
]


#: a recall flow's rounds and the intents an AI flow calls again on (add and update alike)
NodeList = Annotated[
    list[NodeFields] | None,
    Field(
        max_length=10,
        description=(
            "One entry per round: the settings that round uses instead of the task's (at most 10)"
        ),
    ),
]
RecallIntents = Annotated[
    list[IntentName] | None,
    Field(
        max_length=20,
        description=(
            "AI tasks: call again only callees whose conversation ended on one of "
            "these intent levels"
        ),
    ),
]


class _Texts(TypedDict):
    """text1..text10 of a callee: each replaces ${textN}; over 30 characters is cut."""

    text1: NotRequired[Var]
    text2: NotRequired[Var]
    text3: NotRequired[Var]
    text4: NotRequired[Var]
    text5: NotRequired[Var]
    text6: NotRequired[Var]
    text7: NotRequired[Var]
    text8: NotRequired[Var]
    text9: NotRequired[Var]
    text10: NotRequired[Var]


# TypedDicts, not models: pydantic validates 100,000 of them in C without making objects
class NumberInfo(_Texts):
    """A callee: country code + number, 7-15 digits, and its text variables."""

    __pydantic_config__ = _NUMBER_CONFIG  # type: ignore[misc]
    calleeNumber: Annotated[
        str,
        StringConstraints(pattern=PHONE),
        Field(description="Number to call: country code and number, 7-15 digits, no '+'"),
    ]


class NumberInfoAI(_Texts):
    """A callee of an AI task: 6-18 digits."""

    __pydantic_config__ = _NUMBER_CONFIG  # type: ignore[misc]
    calleeNumber: Annotated[
        str,
        StringConstraints(pattern=PHONE_AI),
        Field(description="Number to call: country code and number, 6-18 digits, no '+'"),
    ]


class RecallFlowSpec(Fields):
    """`recallFlow` inside send: rounds run after the task finishes (recallFlow/update's
    fields without keyId)."""

    recallType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed")
    recallInterval: int = Field(ge=1, le=1440, description="minutes between rounds")
    recallNum: int = Field(ge=1, le=10, description="number of rounds")
    nodeList: NodeList = None
    recallIntent: RecallIntents = None


class _Numbers(Fields):
    """numberInfoList (objects, ≤100,000) or the old numberList (strings, ≤200,000)."""

    numberInfoList: list[NumberInfo] | None = Field(
        default=None, description="Callees, at most 100,000: {calleeNumber, text1..text10}"
    )
    numberList: list[str] | None = Field(
        default=None, description="Callees as plain numbers (the older form), at most 200,000"
    )


class _NumbersAI(Fields):
    numberInfoList: list[NumberInfoAI] | None = Field(
        default=None,
        description="Callees, at most 100,000: {calleeNumber (6-18 digits), text1..text10}",
    )
    numberList: list[str] | None = Field(
        default=None, description="Callees as plain numbers (the older form), at most 200,000"
    )


class GroupCallSend(TaskFields, _Numbers):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    taskName: TaskName
    source: Source
    loopCount: LoopCount
    maxCalls: MaxCalls
    recallFlow: RecallFlowSpec | None = Field(
        default=None, description="Automatic recall rounds run after the task ends (omit for none)"
    )


class GroupCallSendAI(AiFields, _NumbersAI):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    taskName: TaskName
    scriptId: Int32 = Field(description="AI speech template id")
    recallFlow: RecallFlowSpec | None = Field(
        default=None, description="Automatic recall rounds run after the task ends (omit for none)"
    )


class GroupCallUpdate(TaskFields, _Numbers):
    keyId: Id = Field(description="Id of the waiting task to change")
    taskName: TaskName
    source: Source
    appId: str | None = Field(
        default=None, max_length=32, description="Voice application id (default: the task's)"
    )


class GroupCallUpdateAI(AiFields, _NumbersAI):
    keyId: Id = Field(description="Id of the waiting AI task to change")
    taskName: TaskName
    scriptId: Int32 = Field(
        description="AI speech template id (the same id as AiVoice's dialogFlowId)"
    )


class GroupCallResend(TaskFields):
    keyId: Id = Field(description="Id of the finished or cancelled task to call again")
    taskName: TaskName
    resendType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed ones")
    appId: str | None = Field(
        default=None, max_length=32, description="Voice application id (default: the source task's)"
    )


class GroupCallResendAI(AiFields):
    keyId: Id = Field(description="Id of the finished or cancelled AI task to call again")
    taskName: TaskName
    resendType: int = Field(ge=0, le=1, description="0 all numbers, 1 only failed ones")
    scriptId: Int32 = Field(
        description="AI speech template id (the same id as AiVoice's dialogFlowId)"
    )


class TaskQueryParams(Fields):
    strTime: str | None = Field(
        default=None,
        description="Earliest creation time, yyyy-MM-dd HH:mm:ss in the account's time zone",
    )
    endTime: str | None = Field(
        default=None,
        description="Latest creation time, yyyy-MM-dd HH:mm:ss in the account's time zone",
    )
    statusList: list[Int32] | None = Field(
        default=None,
        max_length=10,
        description=(
            "Task statuses: 0 waiting, 1 calling, 2 finished, 3 submission failed, "
            "4 cancelled, 5 paused, 6 submitting"
        ),
    )
    idxAppId: str | None = Field(
        default=None, max_length=32, description="Voice application id to filter on"
    )
    searchCondition: str | None = Field(
        default=None, max_length=200, description="Task name, voice file id or text to search for"
    )
    taskType: int | None = Field(
        default=None, ge=1, le=3, description="Task type to filter on: 1 normal, 2 AI, 3 AI Agent"
    )


class TaskQuery(PageQuery):
    params: TaskQueryParams | None = Field(default=None, description="Filters (all optional)")


class TaskIds(Fields):
    """`{"jobIdList":[...]}` (pause) or `{"taskIdList":[...]}` (cancel); either is accepted."""

    jobIdList: list[Id] | None = Field(
        default=None, max_length=1000, description="Ids of the tasks (pause's name for the list)"
    )
    taskIdList: list[Id] | None = Field(
        default=None,
        max_length=1000,
        description="Ids of the tasks (cancel's name for the list); either list is accepted",
    )


class RecallUpdate(Fields):
    keyId: Id = Field(description="Id of the recall flow to change (pending flows only)")
    recallInterval: int = Field(ge=1, le=1440, description="Minutes between rounds, 1-1440")
    recallNum: int = Field(ge=1, le=10, description="Number of rounds, 1-10")
    recallType: int = Field(
        ge=0, le=1, description="Who is called again: 0 all numbers, 1 only the failed ones"
    )
    nodeList: NodeList = None
    recallIntent: RecallIntents = None


class RecallQueryParams(Fields):
    strTime: str | None = Field(
        default=None, description="Earliest creation time, yyyy-MM-dd HH:mm:ss"
    )
    endTime: str | None = Field(
        default=None, description="Latest creation time, yyyy-MM-dd HH:mm:ss"
    )
    taskName: str | None = Field(
        default=None,
        max_length=64,
        description="Parent task name (part of it) or exact parent task id",
    )


class RecallQuery(PageQuery):
    params: RecallQueryParams | None = Field(
        default=None, description="Filters: strTime, endTime, taskName"
    )


class RecallDetailQuery(Fields):
    keyId: Id = Field(description="Id of the recall flow")


class RecallCancel(Fields):
    type: int = Field(ge=1, le=3, description="1 flow keyId, 2 parent taskId, 3 node keyId")
    id: Id = Field(description="The id type names: a flow keyId, a parent taskId or a node keyId")
