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
    startTime: Short | None = None
    endTime: Short | None = None


class InactiveDate(VendorModel):
    startDate: Short | None = None
    endDate: Short | None = None


class TaskFields(VendorModel):
    """taskAdd's fields (B.3); the SDK's `"jobId":null` is ignored."""

    appId: AppId
    name: Text64
    dialogFlowId: Id
    mode: Literal["MANUAL", "AUTO"]
    startDateTime: Short | None = None
    endDateTime: Short | None = None
    dailyStartDateTime: Short
    dailyEndDateTime: Short
    robotCount: Annotated[int, Field(ge=1, le=1000)]
    jobPhoneNumberId: Id
    inactiveTimeList: Annotated[list[InactiveTime] | None, Field(max_length=ai.MAX_INACTIVE)] = None
    inactiveDateList: Annotated[list[InactiveDate] | None, Field(max_length=ai.MAX_INACTIVE)] = None
    daysOfWeek: Annotated[list[Day] | None, Field(max_length=7)] = None
    redial: bool
    redialCondition: Annotated[list[Redial] | None, Field(max_length=20)] = None
    redialInterval: Annotated[int | None, Field(ge=1, le=10_080)] = None
    redialTimes: Annotated[int | None, Field(ge=0, le=100)] = None

    def fields(self) -> dict[str, Any]:
        out = self.model_dump(exclude_none=True)
        for key in ("inactiveTimeList", "inactiveDateList"):
            if key in out:
                out[key] = [{k: v for k, v in w.items() if v is not None} for w in out[key]]
        return out


class TaskEdit(TaskFields):
    jobId: Id


class TaskRef(VendorModel):
    appId: AppId
    jobId: Id


class ListParams(VendorModel):
    appId: AppId
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = None


class TaskListRequest(VendorModel):
    current: Annotated[int, Field(ge=1, le=10_000_000)]
    size: Annotated[int, Field(ge=1, le=100)]
    params: ListParams


class ImportRequest(VendorModel):
    appId: AppId
    jobId: Id
    callRecordDup: bool | None = None
    customerPersons: Annotated[list[Any], Field(min_length=1, max_length=ai.MAX_CUSTOMERS)]


class NumberItem(VendorModel):
    phoneNumber: Short
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = None


class UncalledDelete(VendorModel):
    appId: AppId
    jobId: Id
    name: Annotated[str | None, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)] = None
    jobPhoneNumberList: Annotated[list[NumberItem], Field(min_length=1, max_length=1000)]


class NoCallParams(VendorModel):
    appId: AppId
    jobId: Id | None = None
    taskStatus: NumberStatus | None = None


class NoCallRequest(VendorModel):
    current: Current
    size: Size
    params: NoCallParams


class RecordParams(VendorModel):
    appId: AppId
    startTime: Short
    endTime: Short


class RecordQuery(VendorModel):
    current: Annotated[int, Field(ge=1, le=10_000_000)]
    size: Annotated[int, Field(ge=1, le=100)]
    params: RecordParams


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
