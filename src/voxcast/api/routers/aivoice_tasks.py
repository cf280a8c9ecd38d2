"""The AiVoice robot API's tasks (spec supplement B.3-B.11): `taskAdd`, `taskEdit`, `taskStart`,
`taskStop`, `taskDel`, `taskList`, `properties`, `importCustomer` and its `/del`, `taskNoCall`
and `recordQuery`, on the AiVoice route class (its codes, any path case)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from voxcast.api.aivoice_routing import PREFIX, AiVoiceRoute, aivoice_ok
from voxcast.api.base import STORABLE_PATTERN, Current, Id, Size, VendorModel, page_body
from voxcast.api.deps import CurrentAccount, Rt
from voxcast.api.routers.aivoice import AppId
from voxcast.domain import aivoice_tasks as ai
from voxcast.services import aivoice_records, aivoice_tasks, recordings

router = APIRouter(route_class=AiVoiceRoute, tags=["AI voice robot"])

#: the operations, as spelled in the routes (requests may spell them in any case)
OPERATIONS = (
    "/taskAdd",
    "/taskEdit",
    "/taskStart",
    "/taskStop",
    "/taskDel",
    "/taskList",
    "/properties",
    "/importCustomer",
    "/importCustomer/del",
    "/taskNoCall",
    "/recordQuery",
)

Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=STORABLE_PATTERN)]
Short = Annotated[str, StringConstraints(max_length=32, pattern=STORABLE_PATTERN)]
Day = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
Redial = Literal[
    "NO_ANSWER",
    "BUSY",
    "POWER_OFF",
    "OUT_OF_SERVICE",
    "REFUSED",
    "VACANT_NUMBER",
    "CAN_NOT_CONNECT",
    "FROM_PHONE_ERROR",
    "SYSTEM_ERROR",
    "CALL_LOSS",
]
NumberStatus = Literal["CAN_NOT_START", "CAN_START", "IN_PROCESS"]


class InactiveTime(VendorModel):
    startTime: Short | None = Field(
        default=None, description="Start of a daily no-call window (HH:mm)"
    )
    endTime: Short | None = Field(default=None, description="End of a daily no-call window (HH:mm)")


class InactiveDate(VendorModel):
    startDate: Short | None = Field(
        default=None, description="First day of a no-call period (yyyy-MM-dd)"
    )
    endDate: Short | None = Field(
        default=None, description="Last day of a no-call period (yyyy-MM-dd)"
    )


class TaskFields(VendorModel):
    """taskAdd's fields (B.3); the SDK's `"jobId":null` is ignored."""

    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    name: Text64 = Field(description="Task name, 1-64 characters")
    dialogFlowId: Id = Field(description="Id of the speech script (dialogFlowList lists them)")
    mode: Literal["MANUAL", "AUTO"] = Field(
        description="MANUAL: started with taskStart; AUTO: starts by itself at startDateTime"
    )
    startDateTime: Short | None = Field(
        default=None, description="When an AUTO task starts (yyyy-MM-dd HH:mm:ss)"
    )
    endDateTime: Short | None = Field(
        default=None, description="When the task stops dialing (yyyy-MM-dd HH:mm:ss)"
    )
    dailyStartDateTime: Short = Field(description="Start of the daily calling window (HH:mm:ss)")
    dailyEndDateTime: Short = Field(description="End of the daily calling window (HH:mm:ss)")
    robotCount: Annotated[int, Field(ge=1, le=1000)] = Field(
        description="AI concurrency: calls the robot holds at once, 1-1000"
    )
    jobPhoneNumberId: Id = Field(description="Outbound line id (channelList's tenantPhoneNumberId)")
    inactiveTimeList: Annotated[list[InactiveTime] | None, Field(max_length=ai.MAX_INACTIVE)] = (
        Field(default=None, description="Daily no-call windows, at most 3")
    )
    inactiveDateList: Annotated[list[InactiveDate] | None, Field(max_length=ai.MAX_INACTIVE)] = (
        Field(default=None, description="No-call periods of whole days")
    )
    daysOfWeek: Annotated[list[Day] | None, Field(max_length=7)] = Field(
        default=None, description="Weekdays calls are made on, e.g. MONDAY"
    )
    redial: bool = Field(
        description="true to call a number again when its result is in redialCondition"
    )
    redialCondition: Annotated[list[Redial] | None, Field(max_length=20)] = Field(
        default=None,
        description=(
            "Call results that are redialled (e.g. NO_ANSWER, BUSY); empty: the "
            "usual not-reached results"
        ),
    )
    redialInterval: Annotated[int | None, Field(ge=1, le=10_080)] = Field(
        default=None, description="Minutes between redials, 1-10080"
    )
    redialTimes: Annotated[int | None, Field(ge=0, le=100)] = Field(
        default=None, description="Redials at most per number, 0-100"
    )

    def fields(self) -> dict[str, Any]:
        out = self.model_dump(exclude_none=True)
        for key in ("inactiveTimeList", "inactiveDateList"):
            if key in out:
                out[key] = [{k: v for k, v in w.items() if v is not None} for w in out[key]]
        return out


class TaskEdit(TaskFields):
    jobId: Id = Field(description="Id of the AiVoice task (taskAdd's answer)")


class TaskRef(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    jobId: Id = Field(description="Id of the AiVoice task (taskAdd's answer)")


class ListParams(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = Field(
        default=None, description="Part of the task name to filter on"
    )


class TaskListRequest(VendorModel):
    current: Annotated[int, Field(ge=1, le=10_000_000)] = Field(description="Page number, from 1")
    size: Annotated[int, Field(ge=1, le=100)] = Field(description="Page size, 1-100")
    params: ListParams = Field(description="Filters of the query")


class ImportRequest(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    jobId: Id = Field(description="Id of the AiVoice task (taskAdd's answer)")
    callRecordDup: bool | None = Field(
        default=None, description="true: skip numbers this task has already called"
    )
    customerPersons: Annotated[list[Any], Field(min_length=1, max_length=ai.MAX_CUSTOMERS)] = Field(
        description="Customers to call, 1-100: {phoneNumber, name, properties{variable: value}}"
    )


class NumberItem(VendorModel):
    phoneNumber: Short = Field(description="Number to remove from the task's queue")
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = Field(
        default=None, description="Customer name (optional)"
    )


class UncalledDelete(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    jobId: Id = Field(description="Id of the AiVoice task (taskAdd's answer)")
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = Field(
        default=None, description="Task name (ignored; the jobId names the task)"
    )
    jobPhoneNumberList: Annotated[list[NumberItem], Field(min_length=1, max_length=1000)] = Field(
        description="Numbers to take out of the task's queue, 1-1000"
    )


class NoCallParams(VendorModel):
    appId: AppId = Field(
        description="Application id: the app the request acts in, one of the calling account's"
    )
    jobId: Id | None = Field(
        default=None, description="Id of the AiVoice task whose waiting numbers are listed"
    )
    taskStatus: NumberStatus | None = Field(
        default=None,
        description="State of the numbers to list: CAN_NOT_START, CAN_START or IN_PROCESS",
    )


class NoCallRequest(VendorModel):
    current: Current = Field(description="Page number, from 1")
    size: Size = Field(description="Page size, 1-100")
    params: NoCallParams = Field(description="Filters of the query")


class RecordParams(VendorModel):
    appId: AppId = Field(description="AiVoice application id whose calls are listed")
    startTime: Short = Field(
        description=(
            "Start of the window, yyyy-MM-dd HH:mm:ss in the account's time zone (at most 31 days)"
        )
    )
    endTime: Short = Field(
        description="End of the window, yyyy-MM-dd HH:mm:ss in the account's time zone"
    )


class RecordQuery(VendorModel):
    current: Annotated[int, Field(ge=1, le=10_000_000)] = Field(description="Page number, from 1")
    size: Annotated[int, Field(ge=1, le=100)] = Field(description="Page size, 1-100")
    params: RecordParams = Field(description="The time window of the query and its filters")


def _page(page: aivoice_tasks.Page, current: int, size: int) -> dict[str, Any]:
    return aivoice_ok(page_body(list(page.records), page.total, current, size, search_count=False))


@router.post(f"{PREFIX}/taskAdd")
async def task_add(req: TaskFields, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """A new task (B.3): `data` is its jobId. MANUAL tasks wait for taskStart, AUTO ones for
    startDateTime."""
    async with rt.sessions.begin() as session:
        job_id = await aivoice_tasks.add_task(session, account, req.fields(), rt.clock.now())
    return aivoice_ok(job_id)


@router.post(f"{PREFIX}/taskEdit")
async def task_edit(req: TaskEdit, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Change a task that is not running (B.4)."""
    async with rt.sessions.begin() as session:
        await aivoice_tasks.edit_task(session, account, req.fields(), rt.clock.now())
    return aivoice_ok()


@router.post(f"{PREFIX}/taskStart")
async def task_start(req: TaskRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Start or resume dialing the task's customers (B.8)."""
    async with rt.sessions.begin() as session:
        await aivoice_tasks.start_task(session, account.id, req.appId, req.jobId, rt.clock.now())
    return aivoice_ok()


@router.post(f"{PREFIX}/taskStop")
async def task_stop(req: TaskRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Pause the task (B.8: stop means pause; taskStart resumes it)."""
    async with rt.sessions.begin() as session:
        await aivoice_tasks.stop_task(session, account.id, req.appId, req.jobId, rt.clock.now())
    return aivoice_ok()


@router.post(f"{PREFIX}/taskDel")
async def task_del(req: TaskRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Delete a task that is not running (B.8)."""
    async with rt.sessions.begin() as session:
        await aivoice_tasks.delete_task(session, account.id, req.appId, req.jobId, rt.clock.now())
    return aivoice_ok()


@router.post(f"{PREFIX}/taskList")
async def task_list(req: TaskListRequest, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The app's tasks, newest first (B.9)."""
    async with rt.readonly() as session:
        page = await aivoice_tasks.list_tasks(
            session,
            account,
            req.params.appId,
            req.params.name,
            req.current,
            req.size,
            rt.clock.now(),
        )
    return _page(page, req.current, req.size)


@router.post(f"{PREFIX}/properties")
async def task_properties(req: TaskRef, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The variable names the task's script uses (B.5): the keys importCustomer's
    `properties` must give."""
    async with rt.readonly() as session:
        names = await aivoice_tasks.task_variables(session, account.id, req.appId, req.jobId)
    return aivoice_ok(names)


@router.post(f"{PREFIX}/importCustomer")
async def import_customer(req: ImportRequest, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Add up to 100 customers to a task (B.6); `data` lists the ones not taken."""
    async with rt.sessions.begin() as session:
        failed = await aivoice_tasks.import_customers(
            session,
            account,
            req.appId,
            req.jobId,
            req.customerPersons,
            skip_called=bool(req.callRecordDup),
            now=rt.clock.now(),
        )
    return aivoice_ok(failed)


@router.post(f"{PREFIX}/importCustomer/del")
async def delete_customers(req: UncalledDelete, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Remove numbers not yet called from a task (B.7)."""
    async with rt.sessions.begin() as session:
        await aivoice_tasks.delete_uncalled(
            session,
            account.id,
            req.appId,
            req.jobId,
            [n.phoneNumber for n in req.jobPhoneNumberList],
        )
    return aivoice_ok()


@router.post(f"{PREFIX}/taskNoCall")
async def task_no_call(req: NoCallRequest, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """Numbers not yet finished, of one task or of all the app's (B.10)."""
    p = req.params
    async with rt.readonly() as session:
        page = await aivoice_tasks.uncalled(
            session, account.id, p.appId, p.jobId, p.taskStatus, req.current, req.size
        )
    return _page(page, req.current, req.size)


@router.post(f"{PREFIX}/recordQuery")
async def record_query(req: RecordQuery, account: CurrentAccount, rt: Rt) -> dict[str, Any]:
    """The app's AI call records in a time range (B.11)."""
    p = req.params
    async with rt.readonly() as session:
        links = recordings.links(rt.settings, rt.secrets, rt.wall.now())
        page = await aivoice_records.call_records(
            session, account, p.appId, p.startTime, p.endTime, req.current, req.size, links
        )
    return _page(page, req.current, req.size)
