"""AiVoice tasks (spec supplement B.3-B.11, lifecycle B.14) through the real HTTP app on both
databases: each endpoint's fields, its codes (-27, -32, -37, -50, -60), the task states, and
tenant isolation. The dialer's part is stood in for by row changes; the sandbox run is in
tests/integration/test_aivoice_dialing.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import Tenant, make_tenant
from tests.contract.test_aivoice_scripts import add, call
from voxcast.clock import FixedClock
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.runtime import Runtime
from voxcast.storage.models import Callee, Task

OK = {"status": "0", "reason": "success", "data": None}
NO_TASK = "Outbound task does not exist"
BAD = "Parameter validation error"
PROPS = {"name": "Jack", "amount": "30 euros", "dueDate": "March 5"}


def task_body(tenant: Tenant, script_id: int, **changes: Any) -> dict[str, Any]:
    """The SDK's taskAdd body (B.3) with real values; a change of None sends null."""
    body: dict[str, Any] = {
        "appId": tenant.app_id,
        "name": "reminders",
        "dialogFlowId": script_id,
        "mode": "MANUAL",
        "startDateTime": None,
        "endDateTime": None,
        "dailyStartDateTime": "09:00",
        "dailyEndDateTime": "20:00",
        "robotCount": 2,
        "jobPhoneNumberId": 1,
        "inactiveTimeList": [{"startTime": "12:00", "endTime": "13:00"}],
        "inactiveDateList": [{"startDate": "2026-05-01", "endDate": "2026-05-03"}],
        "daysOfWeek": ["MONDAY", "TUESDAY"],
        "redial": False,
        "redialCondition": ["CALL_LOSS", "NO_ANSWER"],
        "redialInterval": 1,
        "redialTimes": 3,
        "jobId": None,
    }
    body.update(changes)
    return body


async def new_task(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, **changes: Any
) -> int:
    script_id = await add(http, tenant, clock)
    got = await call(http, tenant, clock, "taskAdd", task_body(tenant, script_id, **changes))
    assert got["status"] == "0", got
    assert isinstance(got["data"], int)
    return int(got["data"])


def person(number: str, name: str = "Jack", **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "phoneNumber": number, "gender": None}
    out["properties"] = PROPS | {"name": name}
    out.update(changes)
    return out


async def import_(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, job_id: int, *people: Any, **kw: Any
) -> dict[str, Any]:
    body = {"appId": tenant.app_id, "jobId": job_id, "customerPersons": list(people)} | kw
    return await call(http, tenant, clock, "importCustomer", body)


async def listed(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, **params: Any
) -> dict[str, Any]:
    body = {"current": 1, "size": 10, "params": {"appId": tenant.app_id} | params}
    got = await call(http, tenant, clock, "taskList", body)
    assert got["status"] == "0", got
    data: dict[str, Any] = got["data"]
    return data


async def status_of(http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock) -> str:
    records = (await listed(http, tenant, clock))["records"]
    return str(records[0]["status"])


async def no_call(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, **params: Any
) -> dict[str, Any]:
    body = {"current": 1, "size": 20, "params": {"appId": tenant.app_id} | params}
    return await call(http, tenant, clock, "taskNoCall", body)


def ref(tenant: Tenant, job_id: int) -> dict[str, Any]:
    return {"appId": tenant.app_id, "jobId": job_id}


async def set_task(rt: Runtime, job_id: int, **values: Any) -> None:
    """Stand in for the scheduler and the dialer, which move a started task."""
    async with rt.sessions.begin() as session:
        await session.execute(update(Task).where(Task.id == job_id).values(**values))


# -- taskAdd, taskList ---------------------------------------------------------------------------


async def test_a_new_manual_task_is_listed_not_started_with_the_b9_fields(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    assert await listed(http, tenant, clock) == {
        "records": [
            {
                "jobId": job_id,
                "name": "reminders",
                "dialogFlowName": "Payment reminder",
                "jobPhoneNumberName": "sandbox",
                "robotCount": 2,
                "mode": "MANUAL",
                "hangupSms": False,
                "taskTotal": 0,
                "taskCompleted": 0,
                "status": "NOT_STARTED",
                "isDialogFlowUnbind": "false",
                "createTime": "2026-03-02 09:00:00",
            }
        ],
        "total": 1,
        "size": 10,
        "current": 1,
        "pages": 1,
    }


async def test_the_daily_window_without_the_inactive_times_is_when_the_task_dials(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    async with rt.sessions() as session:
        task = await session.get(Task, job_id)
        assert task is not None
        assert task.params["allowSendTime"] == [
            {"strTime": "09:00", "endTime": "12:00"},
            {"strTime": "13:00", "endTime": "20:00"},
        ]
        assert (task.status, task.send_time, task.script_id) == (TaskStatus.SUSPENDED, None, 1)


async def test_task_list_pages_newest_first_and_matches_part_of_the_name(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    script_id = await add(http, tenant, clock)
    for name in ("march calls", "april calls", "other"):
        got = await call(http, tenant, clock, "taskAdd", task_body(tenant, script_id, name=name))
        assert got["status"] == "0"
        clock.advance(1)
    page = await listed(http, tenant, clock, name="CALLS")
    assert [r["name"] for r in page["records"]] == ["april calls", "march calls"]
    body = {"current": 2, "size": 2, "params": {"appId": tenant.app_id}}
    second = (await call(http, tenant, clock, "taskList", body))["data"]
    assert ([r["name"] for r in second["records"]], second["total"], second["pages"]) == (
        ["march calls"],
        3,
        2,
    )


async def test_an_auto_task_waits_for_its_start_time(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock, mode="AUTO", startDateTime="2026-03-02 10:00:00")
    assert await status_of(http, tenant, clock) == "RUNNABLE"
    async with rt.sessions() as session:
        task = await session.get(Task, job_id)
        assert task is not None and task.status == TaskStatus.WAITING
        assert (
            task.send_time is not None and task.send_time.isoformat() == "2026-03-02T10:00:00+00:00"
        )
    clock.advance(3600)
    assert await status_of(http, tenant, clock) == "IN_QUEUE"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"name": None}, "name: Input should be a valid string"),
        ({"mode": "SOMETIMES"}, "mode: Input should be 'MANUAL' or 'AUTO'"),
        ({"mode": "AUTO"}, "startDateTime: required when mode is AUTO"),
        # the SDK test's placeholder strings
        ({"startDateTime": "startDateTime"}, "startDateTime: must be yyyy-MM-dd HH:mm:ss"),
        ({"dailyStartDateTime": "9am"}, "dailyStartDateTime: must be HH:mm"),
        ({"dailyEndDateTime": "08:00"}, "dailyEndDateTime: must be after dailyStartDateTime"),
        ({"robotCount": 0}, "robotCount: Input should be greater than or equal to 1"),
        (
            {"jobPhoneNumberId": 2},
            "jobPhoneNumberId: 2 is not one of the account's lines (channelList)",
        ),
        (
            {"inactiveTimeList": [{"startTime": "strTime", "endTime": "endTime"}]},
            "inactiveTimeList[0].startTime: must be HH:mm",
        ),
        (
            {"inactiveTimeList": [{"startTime": "08:00", "endTime": "21:00"}]},
            "inactiveTimeList: covers the whole daily window",
        ),
        (
            {"inactiveDateList": [{"startDate": "2026-05-03", "endDate": "2026-05-01"}]},
            "inactiveDateList[0].endDate: must not be before startDate",
        ),
        (
            {"inactiveDateList": [{"startDate": "x", "endDate": "y"}] * 4},
            "inactiveDateList: List should have at most 3 items after validation, not 4",
        ),
        (
            {"daysOfWeek": ["FUNDAY"]},
            "daysOfWeek[0]: Input should be 'MONDAY', 'TUESDAY', "
            "'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY' or 'SUNDAY'",
        ),
        ({"redialCondition": ["ANSWERED"]}, None),
    ],
)
async def test_a_bad_task_field_is_minus_27_naming_it(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    changes: dict[str, Any],
    reason: str | None,
) -> None:
    script_id = await add(http, tenant, clock)
    got = await call(http, tenant, clock, "taskAdd", task_body(tenant, script_id, **changes))
    assert got["status"] == "-27" and got["data"] is None
    if reason is not None:
        assert got["reason"] == f"{BAD}: {reason}"
    else:
        assert got["reason"].startswith(f"{BAD}: redialCondition[0]: Input should be")
    assert (await listed(http, tenant, clock))["total"] == 0


async def test_an_unknown_or_another_accounts_script_is_minus_60(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    theirs = await add(http, other_tenant, clock)
    for script_id in (theirs, 999):
        got = await call(http, tenant, clock, "taskAdd", task_body(tenant, script_id))
        assert got == {
            "status": "-60",
            "reason": f"The AI speech template does not exist: dialogFlowId: {script_id} does "
            "not exist",
            "data": None,
        }


async def test_a_second_task_of_the_same_name_is_minus_27(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    await new_task(http, tenant, clock)
    got = await call(http, tenant, clock, "taskAdd", task_body(tenant, 1))
    assert got["reason"] == f"{BAD}: name: a task named 'reminders' already exists"


async def test_an_account_without_any_rate_is_minus_50(
    http: httpx.AsyncClient, rt: Runtime, app: Any, clock: FixedClock
) -> None:
    unpriced = await make_tenant(rt, app, clock, "unpriced", rate=None)
    script_id = await add(http, unpriced, clock)
    expected = {
        "status": "-50",
        "reason": "Application has no price quote: the account has no rate for any destination",
        "data": None,
    }
    assert await call(http, unpriced, clock, "taskAdd", task_body(unpriced, script_id)) == expected
    body = {"current": 1, "size": 10, "params": {"appId": unpriced.app_id}}
    assert await call(http, unpriced, clock, "taskList", body) == expected
    await unpriced.client.aclose()


async def test_task_list_requires_current_and_size(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    got = await call(http, tenant, clock, "taskList", {"params": {"appId": tenant.app_id}})
    assert got["reason"] == f"{BAD}: current: is required (and 1 more)"
    body = {"current": 1, "size": 101, "params": {"appId": tenant.app_id}}
    got = await call(http, tenant, clock, "taskList", body)
    assert got["reason"] == f"{BAD}: size: Input should be less than or equal to 100"


# -- properties, importCustomer, taskNoCall, importCustomer/del --------------------------------


async def test_properties_are_the_variables_of_the_tasks_script(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    got = await call(http, tenant, clock, "properties", ref(tenant, job_id))
    assert got == {"status": "0", "reason": "success", "data": ["amount", "dueDate", "name"]}


async def test_imported_customers_are_stored_with_their_properties_and_listed_as_not_called(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    got = await import_(
        http, tenant, clock, job_id, person("91856321412"), person("91856321413", "Ann")
    )
    assert got == {"status": "0", "reason": "success", "data": []}
    async with rt.sessions() as session:
        rows = (
            await session.scalars(
                select(Callee).where(Callee.task_id == job_id).order_by(Callee.seq)
            )
        ).all()
    assert [(c.seq, c.callee, c.info) for c in rows] == [
        (1, "91856321412", {"name": "Jack", "gender": None, "properties": PROPS}),
        (2, "91856321413", {"name": "Ann", "gender": None, "properties": PROPS | {"name": "Ann"}}),
    ]
    page = (await no_call(http, tenant, clock, jobId=str(job_id)))["data"]
    assert page == {
        "records": [
            {
                "jobId": job_id,
                "customerPersonId": rows[0].id,
                "customerPersonName": "Jack",
                "calledPhoneNumber": "91856321412",
                "status": "CAN_NOT_START",
                "properties": PROPS,
            },
            {
                "jobId": job_id,
                "customerPersonId": rows[1].id,
                "customerPersonName": "Ann",
                "calledPhoneNumber": "91856321413",
                "status": "CAN_NOT_START",
                "properties": PROPS | {"name": "Ann"},
            },
        ],
        "total": 2,
        "size": 20,
        "current": 1,
        "pages": 1,
    }
    assert (await listed(http, tenant, clock))["records"][0]["taskTotal"] == 2


async def test_rows_that_cannot_be_imported_come_back_with_a_reason(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    assert (await import_(http, tenant, clock, job_id, person("8613000000001")))["data"] == []
    bad = [
        person("12ab"),
        person("8613000000002", properties={"name": "Jo"}),
        person("8613000000003", gender=""),
        person("8613000000004", properties={"name": "Jo", "amount": "1", "dueDate": ["x"]}),
        person("8613000000001"),
        "not a customer",
    ]
    good = [person("8613000000005", gender="FEMALE"), person("8613000000005")]
    got = await import_(http, tenant, clock, job_id, *bad[:4], good[0], bad[4], good[1], bad[5])
    assert got["status"] == "0"
    assert got["data"] == [
        bad[0] | {"reason": "phoneNumber: must be 6-18 digits"},
        bad[1] | {"reason": "properties: the script needs amount, dueDate"},
        bad[2] | {"reason": "gender: must be MALE, FEMALE or null"},
        bad[3] | {"reason": "properties.dueDate: must be text"},
        bad[4] | {"reason": "phoneNumber: already waiting to be called in this task"},
        good[1] | {"reason": "phoneNumber: given twice in this request"},
        {"customer": "not a customer", "reason": "must be an object"},
    ]
    numbers = [
        r["calledPhoneNumber"] for r in (await no_call(http, tenant, clock))["data"]["records"]
    ]
    assert numbers == ["8613000000001", "8613000000005"]


async def test_a_number_no_rate_covers_is_not_imported(
    http: httpx.AsyncClient, rt: Runtime, app: Any, clock: FixedClock
) -> None:
    from decimal import Decimal

    from voxcast.services import rates

    narrow = await make_tenant(rt, app, clock, "narrow", rate=None)
    async with rt.sessions.begin() as session:
        await rates.set_rate(session, narrow.creds.account_id, "86", Decimal("0.02"))
    job_id = await new_task(http, narrow, clock)
    got = await import_(http, narrow, clock, job_id, person("8613000000000"), person("4420000000"))
    assert got["data"] == [
        person("4420000000") | {"reason": "phoneNumber: no rate for this destination"}
    ]
    await narrow.client.aclose()


async def test_call_record_dup_skips_numbers_the_task_has_already_called(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    await import_(http, tenant, clock, job_id, person("8613000000001"))
    async with rt.sessions.begin() as session:
        await session.execute(update(Callee).values(state=CalleeState.DONE, success=True))
    again = person("8613000000001")
    got = await import_(http, tenant, clock, job_id, again, callRecordDup=True)
    assert got["data"] == [
        again | {"reason": "phoneNumber: already called in this task (callRecordDup)"}
    ]
    got = await import_(http, tenant, clock, job_id, again, callRecordDup=False)
    assert got["data"] == []
    task = (await listed(http, tenant, clock))["records"][0]
    assert (task["taskTotal"], task["taskCompleted"]) == (2, 1)


async def test_import_limits_and_unknown_tasks(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    many = [person(f"86130000{i:05d}") for i in range(101)]
    got = await import_(http, tenant, clock, job_id, *many)
    assert got == {
        "status": "-27",
        "reason": f"{BAD}: customerPersons: List should have at most 100 items after "
        "validation, not 101",
        "data": None,
    }
    got = await import_(http, tenant, clock, job_id)
    assert got["reason"] == (
        f"{BAD}: customerPersons: List should have at least 1 item after validation, not 0"
    )
    got = await import_(http, tenant, clock, job_id + 100, person("8613000000001"))
    assert got == {
        "status": "-32",
        "reason": f"{NO_TASK}: jobId: {job_id + 100} does not exist",
        "data": None,
    }
    assert (await import_(http, tenant, clock, job_id, *many[:100]))["data"] == []


async def test_deleting_numbers_removes_only_those_not_yet_called(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    numbers = ["8613000000001", "8613000000002", "8613000000003"]
    await import_(http, tenant, clock, job_id, *(person(n) for n in numbers))
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Callee).where(Callee.callee == numbers[1]).values(state=CalleeState.DIALING)
        )
    body = ref(tenant, job_id) | {
        "name": "reminders",
        "jobPhoneNumberList": [{"phoneNumber": n, "name": "Jack"} for n in numbers[:2]],
    }
    got = await call(http, tenant, clock, "importCustomer/del", body)
    assert got == OK
    page = (await no_call(http, tenant, clock))["data"]
    assert [(r["calledPhoneNumber"], r["status"]) for r in page["records"]] == [
        (numbers[1], "IN_PROCESS"),
        (numbers[2], "CAN_NOT_START"),
    ]
    assert (await no_call(http, tenant, clock, taskStatus="IN_PROCESS"))["data"]["total"] == 1
    assert (await no_call(http, tenant, clock, taskStatus="CAN_START"))["data"]["total"] == 0


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        (
            {"jobId": "jobId"},
            "-27",
            f"{BAD}: params.jobId: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            {"taskStatus": "DONE"},
            "-27",
            f"{BAD}: params.taskStatus: Input should be "
            "'CAN_NOT_START', 'CAN_START' or 'IN_PROCESS'",
        ),
        ({"jobId": 424242}, "-32", f"{NO_TASK}: jobId: 424242 does not exist"),
    ],
)
async def test_task_no_call_codes(
    http: httpx.AsyncClient,
    tenant: Tenant,
    clock: FixedClock,
    params: dict[str, Any],
    status: str,
    reason: str,
) -> None:
    assert await no_call(http, tenant, clock, **params) == {
        "status": status,
        "reason": reason,
        "data": None,
    }


# -- taskStart, taskStop, taskEdit, taskDel ------------------------------------------------------


async def test_start_stop_and_resume_follow_the_task_states(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    await import_(http, tenant, clock, job_id, person("8613000000001"))
    assert await call(http, tenant, clock, "taskStart", ref(tenant, job_id)) == OK
    assert await status_of(http, tenant, clock) == "IN_QUEUE"
    page = (await no_call(http, tenant, clock))["data"]
    assert page["records"][0]["status"] == "CAN_START"
    # the dialer takes it
    await set_task(rt, job_id, status=TaskStatus.CALLING, started_at=clock.now())
    assert await status_of(http, tenant, clock) == "IN_PROCESS"
    assert await call(http, tenant, clock, "taskStart", ref(tenant, job_id)) == OK
    clock.advance(3 * 3600)  # 12:00-13:00 is an inactive time
    assert await status_of(http, tenant, clock) == "SYSTEM_SUSPENDED"
    assert await call(http, tenant, clock, "taskStop", ref(tenant, job_id)) == OK
    assert await status_of(http, tenant, clock) == "USER_PAUSE"
    assert await call(http, tenant, clock, "taskStop", ref(tenant, job_id)) == OK
    assert (await no_call(http, tenant, clock))["data"]["records"][0]["status"] == "CAN_NOT_START"
    assert await call(http, tenant, clock, "taskStart", ref(tenant, job_id)) == OK
    async with rt.sessions() as session:
        task = await session.get(Task, job_id)
        assert task is not None and (task.status, task.send_time) == (TaskStatus.WAITING, None)
    await set_task(rt, job_id, status=TaskStatus.FINISHED)
    assert await status_of(http, tenant, clock) == "COMPLETED"
    got = await call(http, tenant, clock, "taskStart", ref(tenant, job_id))
    assert got == {
        "status": "-27",
        "reason": f"{BAD}: jobId: task {job_id} is finished",
        "data": None,
    }


async def test_a_task_whose_balance_ran_out_is_system_suspended(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    await set_task(
        rt, job_id, status=TaskStatus.SUSPENDED, started_at=clock.now(), status_reason="balance"
    )
    assert await status_of(http, tenant, clock) == "SYSTEM_SUSPENDED"


async def test_importing_into_a_completed_task_dials_again(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    await set_task(rt, job_id, status=TaskStatus.FINISHED, started_at=clock.now())
    await import_(http, tenant, clock, job_id, person("8613000000001"))
    assert await status_of(http, tenant, clock) == "IN_QUEUE"


async def test_an_auto_task_started_by_hand_starts_at_once(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock, mode="AUTO", startDateTime="2026-03-03 09:00:00")
    assert await call(http, tenant, clock, "taskStart", ref(tenant, job_id)) == OK
    async with rt.sessions() as session:
        task = await session.get(Task, job_id)
        assert task is not None and (task.status, task.send_time) == (TaskStatus.WAITING, None)


async def test_edit_changes_a_stopped_task_and_refuses_a_running_one(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, rt: Runtime
) -> None:
    job_id = await new_task(http, tenant, clock)
    changed = task_body(tenant, 1, jobId=job_id, name="renamed", robotCount=5)
    changed |= {"mode": "AUTO", "startDateTime": "2026-03-03 09:00:00"}
    assert await call(http, tenant, clock, "taskEdit", changed) == OK
    record = (await listed(http, tenant, clock))["records"][0]
    assert (record["name"], record["robotCount"], record["mode"], record["status"]) == (
        "renamed",
        5,
        "AUTO",
        "RUNNABLE",
    )
    back = changed | {"mode": "MANUAL", "startDateTime": None}
    assert await call(http, tenant, clock, "taskEdit", back) == OK
    assert await status_of(http, tenant, clock) == "NOT_STARTED"
    await call(http, tenant, clock, "taskStart", ref(tenant, job_id))
    got = await call(http, tenant, clock, "taskEdit", back)
    assert got == {
        "status": "-27",
        "reason": f"{BAD}: jobId: task {job_id} is running: stop it (taskStop) first",
        "data": None,
    }
    got = await call(http, tenant, clock, "taskEdit", back | {"jobId": None})
    assert got["reason"] == f"{BAD}: jobId: Input should be a valid integer"


async def test_delete_refuses_a_running_task_then_forgets_a_stopped_one(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    await call(http, tenant, clock, "taskStart", ref(tenant, job_id))
    got = await call(http, tenant, clock, "taskDel", ref(tenant, job_id))
    assert got["reason"] == f"{BAD}: jobId: task {job_id} is running: stop it (taskStop) first"
    assert await call(http, tenant, clock, "taskStop", ref(tenant, job_id)) == OK
    assert await call(http, tenant, clock, "taskDel", ref(tenant, job_id)) == OK
    assert (await listed(http, tenant, clock))["total"] == 0
    gone = {"status": "-32", "reason": f"{NO_TASK}: jobId: {job_id} does not exist", "data": None}
    for op in ("taskStart", "taskStop", "taskDel", "properties"):
        assert await call(http, tenant, clock, op, ref(tenant, job_id)) == gone
    # its name is free again
    assert (await call(http, tenant, clock, "taskAdd", task_body(tenant, 1)))["status"] == "0"


# -- tenants, paths ------------------------------------------------------------------------------


async def test_another_accounts_task_is_minus_32_everywhere(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, clock: FixedClock
) -> None:
    theirs = await new_task(http, other_tenant, clock)
    await import_(http, other_tenant, clock, theirs, person("8613000000001"))
    gone = {"status": "-32", "reason": f"{NO_TASK}: jobId: {theirs} does not exist", "data": None}
    for op in ("taskStart", "taskStop", "taskDel", "properties"):
        assert await call(http, tenant, clock, op, ref(tenant, theirs)) == gone
    assert await import_(http, tenant, clock, theirs, person("8613000000002")) == gone
    edit = task_body(tenant, await add(http, tenant, clock), jobId=theirs)
    assert await call(http, tenant, clock, "taskEdit", edit) == gone
    delete = ref(tenant, theirs) | {"jobPhoneNumberList": [{"phoneNumber": "8613000000001"}]}
    assert await call(http, tenant, clock, "importCustomer/del", delete) == gone
    assert await no_call(http, tenant, clock, jobId=theirs) == gone
    assert (await listed(http, tenant, clock))["total"] == 0
    assert (await no_call(http, tenant, clock))["data"]["total"] == 0
    # their appId is not ours to name
    got = await call(http, tenant, clock, "taskStart", ref(other_tenant, theirs))
    assert got["status"] == "-37"
    assert (await no_call(http, other_tenant, clock))["data"]["total"] == 1


async def test_a_group_call_task_is_not_an_aivoice_task(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    from tests.contract.group_call_support import new_task as new_group_task

    group_id = await new_group_task(tenant)
    got = await call(http, tenant, clock, "taskStop", ref(tenant, group_id))
    assert got["status"] == "-32"


@pytest.mark.parametrize(
    "path",
    ["/aivoice/importCustomer/del", "/V3/AIVOICE/IMPORTCUSTOMER/DEL", "/v3/AiVoice/taskNoCall"],
)
async def test_task_operations_are_served_in_any_path_case(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, path: str
) -> None:
    from tests.contract.group_call_support import raw

    job_id = await new_task(http, tenant, clock)
    body: dict[str, Any] = ref(tenant, job_id) | {"jobPhoneNumberList": [{"phoneNumber": "1"}]}
    if path.endswith("taskNoCall"):
        body = {"current": 1, "size": 1, "params": {"appId": tenant.app_id}}
    got = await raw(http, tenant, clock, "POST", path, body)
    assert got["status"] == "0", got


async def test_an_empty_sign_on_a_task_operation_is_minus_57(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    from tests.contract.group_call_support import raw

    got = await raw(http, tenant, clock, "POST", "/v3/AiVoice/taskAdd", {}, Sign="")
    assert got == {"status": "-57", "reason": "Sign header is empty", "data": None}


# -- recordQuery ---------------------------------------------------------------------------------


def window(tenant: Tenant, start: str, end: str, **page: Any) -> dict[str, Any]:
    return (
        {"current": 1, "size": 15}
        | page
        | {"params": {"appId": tenant.app_id, "startTime": start, "endTime": end}}
    )


async def test_record_query_of_a_window_without_calls_is_an_empty_page(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    body = window(tenant, "2022-01-01 00:00:00", "2022-01-31 00:00:00")
    got = await call(http, tenant, clock, "recordQuery", body)
    assert got == {
        "status": "0",
        "reason": "success",
        "data": {"records": [], "total": 0, "size": 15, "current": 1, "pages": 0},
    }


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (
            "2022-01-01T00:00:00",
            "2022-01-02 00:00:00",
            "params.startTime: must be yyyy-MM-dd HH:mm:ss",
        ),
        (
            "2022-01-02 00:00:00",
            "2022-01-01 00:00:00",
            "params.endTime: must not be before params.startTime",
        ),
        ("2022-01-01 00:00:00", "2022-02-02 00:00:00", "params: the window is over 31 days"),
    ],
)
async def test_record_query_window_errors_are_minus_27(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock, start: str, end: str, reason: str
) -> None:
    got = await call(http, tenant, clock, "recordQuery", window(tenant, start, end))
    assert got == {"status": "-27", "reason": f"{BAD}: {reason}", "data": None}
    body = window(tenant, start, end)
    del body["size"]
    assert (await call(http, tenant, clock, "recordQuery", body))[
        "reason"
    ] == f"{BAD}: size: is required"


async def test_a_script_an_aivoice_task_uses_is_kept_until_the_task_is_deleted(
    http: httpx.AsyncClient, tenant: Tenant, clock: FixedClock
) -> None:
    job_id = await new_task(http, tenant, clock)
    script = {"appId": tenant.app_id, "dialogFlowId": 1}
    got = await call(http, tenant, clock, "dialogFlowDel", script)
    assert got["reason"] == f"{BAD}: dialogFlowId: 1 is used by unfinished task {job_id}"
    assert await call(http, tenant, clock, "taskDel", ref(tenant, job_id)) == OK
    assert await call(http, tenant, clock, "dialogFlowDel", script) == OK
