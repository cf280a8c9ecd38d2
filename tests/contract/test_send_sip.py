"""voice/sendSip, voice/recordSip/{voiceId} and voice/recordSipQuery (api-catalog-aivoice-sip
C.4-C.6, api-catalog §1.4, §4.1-4.3) in the sandbox: every code a request can trigger (0, -10,
-11, -22, -24, -25, -26, -32, -68), the phone rung first and then the callee, the record's
exact times, durations and cost, and the three pushes (ringing type 3, voice CDR type 3, the
call-center record with callId). The sandbox's phones are virtual: one answers after 2 s and
hangs up 10 s after the callee answers; the callee's last digit decides its part."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import START, Tenant, make_tenant
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import FixedClock
from voxcast.dialer.engine import Dialer
from voxcast.runtime import Runtime
from voxcast.services import accounts, agents
from voxcast.storage.models import Account, Agent, App, CallRecord, Push
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.webhooks import outbox

VOICE_ID = re.compile(r"^\d{19}$")
GROUP = "sales-team"
PHONE = "desk-one"
#: the phone's display number (sipAdd's displayNum), used when sendSip gives none
SEAT_DISPLAY = "442070000000"


async def add_phone(
    rt: Runtime, tenant: Tenant, *, group: str = GROUP, pet_name: str | None = PHONE, **seat: Any
) -> agents.NewAgent:
    """A seat of the tenant's app: a SIP phone (account = its name)."""
    now = rt.clock.now()
    async with rt.sessions.begin() as session:
        found = await agents.add_group(session, tenant.creds.account_id, tenant.app_id, group, now)
        [made] = await agents.add_agents(
            session, rt.secrets, tenant.creds.account_id, found.id, 1, SEAT_DISPLAY, None, now
        )
        await session.execute(
            update(Agent).where(Agent.id == made.key_id).values(pet_name=pet_name, **seat)
        )
    return made


@pytest.fixture
async def phone(rt: Runtime, tenant: Tenant) -> agents.NewAgent:
    return await add_phone(rt, tenant)


@pytest.fixture
async def worker(rt: Runtime) -> AsyncIterator[Dialer]:
    """A dialer on the test's fixed clock over the sandbox: every sleep of a call moves the
    clock, so a call's times are exact and it runs at once."""
    pool = RenderPool(PromptCache.under(rt.settings.data_dir), workers=0)
    dialer = Dialer(
        rt, lambda _a: SandboxCarrier(rt.clock), pool=pool, worker_id="w", tick_seconds=0.01
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(dialer.run(stop))
    yield dialer
    stop.set()
    await runner
    await pool.aclose()


def body(tenant: Tenant, seat_name: str, **changes: Any) -> dict[str, Any]:
    """The catalog's sample (C.4) for this tenant's phone; a change to None drops the field."""
    sample = {
        "callee": "932111111110",
        "displayNum": "1008122211",
        "account": seat_name,
        "appId": tenant.app_id,
        "calledInfo": "calledInfo",
    }
    sample.update(changes)
    return {k: v for k, v in sample.items() if v is not None}


async def send(tenant: Tenant, payload: dict[str, Any]) -> Any:
    return await tenant.client._acall("POST", "/voice/sendSip", payload)


async def record(tenant: Tenant, voice_id: str) -> Any:
    return await tenant.client._acall("GET", f"/voice/recordSip/{voice_id}")


async def query(tenant: Tenant, current: int = 1, size: int = 10, **params: Any) -> Any:
    payload = {"current": current, "size": size, "params": params}
    return await tenant.client._acall("POST", "/v3/voice/recordSipQuery", payload)


async def seat_status(rt: Runtime, key_id: int) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(Agent.status).where(Agent.id == key_id)) or 0)


async def made(rt: Runtime, voice_id: str, timeout: float = 20.0) -> CallRecord:
    """The call's record once the dialer has written it (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with rt.sessions() as session:
            rec = await session.get(CallRecord, voice_id)
        if rec is not None:
            return rec
        await asyncio.sleep(0.02)
    raise AssertionError(f"no record of {voice_id} within {timeout} s")


async def wait_idle(rt: Runtime, key_id: int, status: int = agents.AgentStatus.OFFLINE) -> None:
    deadline = time.monotonic() + 10
    while await seat_status(rt, key_id) != status:
        assert time.monotonic() < deadline, "the phone stayed busy"
        await asyncio.sleep(0.02)


def at(seconds: float) -> str:
    """START plus `seconds`, as records show times (ISO-8601, UTC offset)."""
    return (START + timedelta(seconds=seconds)).isoformat(timespec="seconds")


# -- sendSip: 0 -----------------------------------------------------------------------------


async def test_sample_is_accepted_with_a_voice_id_and_the_phone_turns_busy(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent
) -> None:
    env = await send(tenant, body(tenant, phone.name))
    assert env.raw == {"status": "0", "reason": "success", "data": env.data}
    assert VOICE_ID.match(env.data)
    assert await seat_status(rt, phone.key_id) == agents.AgentStatus.BUSY
    pending = await record(tenant, env.data)
    assert pending.code == "0"
    got = pending.data
    assert (got["voiceId"], got["type"], got["callee"], got["displayNum"]) == (
        env.data,
        3,
        "932111111110",
        "1008122211",
    )
    assert (got["sipGroupName"], got["phoneName"]) == (GROUP, PHONE)
    assert got["submitTime"] == at(0) and got["callTime"] is None
    assert (got["terminationCode"], got["terminationReason"]) == ("", "queued")
    assert got["calledInfo"] == "calledInfo"


async def test_the_phone_rings_then_the_callee_and_the_record_is_exact(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    env = await send(tenant, body(tenant, phone.name, callee="8613500000000"))
    await made(rt, env.data)
    got = (await record(tenant, env.data)).data
    # phone rung at 0, answers at 2; the callee rings at 3, answers at 5; the phone hangs up
    # ten seconds later
    assert {
        k: got[k] for k in ("submitTime", "callTime", "ringingTime", "answerTime", "hangupTime")
    } == {
        "submitTime": at(0),
        "callTime": at(0),
        "ringingTime": at(3),
        "answerTime": at(5),
        "hangupTime": at(15),
    }
    assert (got["callDuration"], got["chargedDuration"], got["ringDuration"]) == (10, 60, 2)
    assert (got["cost"], got["rate"], got["billPeriod"]) == ("0.020000", "0.020000", "60+60")
    assert (got["terminationCode"], got["terminationReason"], got["sipCode"]) == (
        "200",
        "success",
        "200",
    )
    assert (got["callee"], got["displayNum"], got["type"]) == ("8613500000000", "1008122211", 3)
    assert (got["sipGroupName"], got["phoneName"], got["code"]) == (
        GROUP,
        PHONE,
        "China(Guangzhou, Guangdong)",
    )
    assert got["recordingFileId"] is None
    # free again (a sandbox phone is not registered: offline), and the call was billed
    await wait_idle(rt, phone.key_id)
    async with rt.sessions() as session:
        balance = await session.scalar(
            select(Account.balance).where(Account.id == tenant.creds.account_id)
        )
    assert balance == Decimal("99.98")


async def test_without_display_num_the_phone_s_own_number_is_shown(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    env = await send(tenant, body(tenant, phone.name, displayNum=None))
    rec = await made(rt, env.data)
    assert rec.display_num == SEAT_DISPLAY


async def test_a_callee_hanging_up_ends_the_call(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    env = await send(tenant, body(tenant, phone.name, callee="8613500000003"))
    rec = await made(rt, env.data)
    got = (await record(tenant, env.data)).data
    assert (got["answerTime"], got["hangupTime"], got["callDuration"]) == (at(5), at(8), 3)
    assert rec.cost == Decimal("0.02")


async def test_a_busy_callee_is_486_and_costs_nothing(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    env = await send(tenant, body(tenant, phone.name, callee="8613500000005"))
    await made(rt, env.data)
    got = (await record(tenant, env.data)).data
    assert (got["terminationCode"], got["terminationReason"]) == ("486", "busy")
    assert (got["callTime"], got["ringingTime"], got["answerTime"]) == (at(0), None, None)
    assert (got["hangupTime"], got["callDuration"], got["cost"]) == (at(3), 0, "0.000000")


async def test_a_phone_that_does_not_answer_never_calls_the_callee(
    tenant: Tenant, rt: Runtime, worker: Dialer
) -> None:
    # a sandbox phone whose job number ends in 4 rings out (the group's 20 s ring time)
    deaf = await add_phone(rt, tenant, emp_no="E104")
    env = await send(tenant, body(tenant, deaf.name))
    await made(rt, env.data)
    got = (await record(tenant, env.data)).data
    assert (got["terminationCode"], got["terminationReason"]) == ("480", "phone did not answer")
    assert (got["ringingTime"], got["answerTime"], got["hangupTime"]) == (None, None, at(20))
    assert (got["callDuration"], got["chargedDuration"], got["cost"]) == (0, 0, "0.000000")
    await wait_idle(rt, deaf.key_id)


async def test_a_callee_on_a_do_not_call_list_is_never_dialed_and_recorded_608(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    # as sendCode: a voiceId is answered, the number is not dialed (neither the phone nor the
    # callee rings), and its record says why (docs/compliance.md)
    listed = await tenant.client.dnc_add(["+86 135 0000 0000"], app_id=tenant.app_id)
    assert listed.code == "0", listed.raw
    env = await send(tenant, body(tenant, phone.name, callee="8613500000000"))
    assert env.code == "0" and VOICE_ID.match(env.data), env.raw
    rec = await made(rt, env.data)
    got = (await record(tenant, env.data)).data
    assert (got["terminationCode"], got["terminationReason"], got["sipCode"]) == (
        "608",
        "do not call",
        "608",
    )
    assert (got["callTime"], got["ringingTime"], got["answerTime"]) == (at(0), None, None)
    assert (got["callDuration"], got["cost"]) == (0, "0.000000")
    assert rec.cost == Decimal(0)
    assert worker.stats.started == 0
    await wait_idle(rt, phone.key_id)  # the phone reserved at intake is free again


async def test_the_three_pushes(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, worker: Dialer
) -> None:
    async with rt.sessions.begin() as session:
        await session.execute(
            update(App)
            .where(App.app_id == tenant.app_id)
            .values(
                push_url="http://127.0.0.1:9/cdr",
                ring_push_url="http://127.0.0.1:9/ring",
                cc_push_url="http://127.0.0.1:9/cc",
            )
        )
    env = await send(tenant, body(tenant, phone.name, callee="8613500000000"))
    voice_id = env.data
    await made(rt, voice_id)
    async with rt.sessions() as session:
        pushes = {p.kind: p.payload for p in (await session.scalars(select(Push))).all()}
    assert set(pushes) == {outbox.AGENT_RINGING, outbox.VOICE_REPORT, outbox.CC_RECORD}
    # §4.2: type 3, a phone called via the API; the times are UTC+8
    assert pushes[outbox.AGENT_RINGING] == [
        {
            "callId": voice_id,
            "called": "8613500000000",
            "noAnswerSipList": [],
            "calledInfo": "calledInfo",
            "type": 3,
            "sipAccount": phone.name,
            "callinEventTime": "2026-03-02 17:00:00",
            "taskId": None,
            "seatGroupName": GROUP,
        }
    ]
    cdr = pushes[outbox.VOICE_REPORT]
    start_ms = int(START.timestamp() * 1000)
    assert (cdr["voiceId"], cdr["type"], cdr["callee"], cdr["displayNum"]) == (
        voice_id,
        3,
        "8613500000000",
        "1008122211",
    )
    assert (cdr["callTime"], cdr["answerTime"], cdr["hangupTime"]) == (
        start_ms,
        start_ms + 5000,
        start_ms + 15000,
    )
    assert (cdr["callDuration"], cdr["cost"], cdr["terminationCode"]) == (10, "0.020000", "200")
    assert (cdr["sipGroupName"], cdr["phoneName"], cdr["calledInfo"]) == (
        GROUP,
        PHONE,
        "calledInfo",
    )
    # §4.3: callId is set for calls made through the call-phone API, and is its voiceId
    cc = pushes[outbox.CC_RECORD]
    assert (cc["callId"], cc["callSessionId"], cc["callType"]) == (voice_id, voice_id, 3)
    assert (cc["agentName"], cc["agentAccount"], cc["agentGroupName"]) == (
        phone.name,
        phone.name,
        GROUP,
    )
    assert (cc["called"], cc["caller"], cc["callDuration"], cc["hangupCode"]) == (
        "8613500000000",
        "1008122211",
        10,
        200,
    )
    # an outgoing call that ended normally (§6.2: 1), hung up by the agent's phone (1)
    assert (cc["hangupReason"], cc["hangingDirection"], cc["cost"]) == (1, 1, "0.020000")
    assert (cc["callStartTime"], cc["answerTime"], cc["callEndTime"]) == (
        "2026-03-02 17:00:00",
        "2026-03-02 17:00:05",
        "2026-03-02 17:00:15",
    )


# -- sendSip: errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"callee": "93211111111a"}, "callee"),
        ({"callee": "932111"}, "callee"),
        ({"callee": "9321111111111111"}, "callee"),
        ({"callee": None}, "callee"),
        ({"displayNum": "12ab"}, "displayNum"),
        ({"displayNum": "123456"}, "displayNum"),
        ({"displayNum": "1234567890123456"}, "displayNum"),
        ({"account": None}, "account"),
        ({"account": ""}, "account"),
        ({"appId": None}, "appId"),
        ({"calledInfo": "x" * 1001}, "calledInfo"),
    ],
)
async def test_field_errors_are_minus_22_naming_the_field(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent, changes: dict[str, Any], field: str
) -> None:
    env = await send(tenant, body(tenant, phone.name, **changes))
    assert env.code == "-22" and field in env.reason, env.raw
    assert await seat_status(rt, phone.key_id) == agents.AgentStatus.OFFLINE


async def test_limits_are_inclusive(tenant: Tenant, rt: Runtime) -> None:
    for changes in (
        {"callee": "9321111", "displayNum": "1234567", "calledInfo": "x" * 1000},
        {"callee": "932111111111111", "displayNum": "123456789012345"},
    ):
        seat = await add_phone(rt, tenant, group=f"g-{len(changes)}")
        env = await send(tenant, body(tenant, seat.name, **changes))
        assert env.code == "0", env.raw


async def test_another_account_s_app_is_minus_32(
    tenant: Tenant, other_tenant: Tenant, phone: agents.NewAgent
) -> None:
    env = await send(tenant, body(tenant, phone.name, appId=other_tenant.app_id))
    assert env.code == "-32" and other_tenant.app_id in env.reason


async def test_an_unknown_or_foreign_account_is_minus_24(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime, phone: agents.NewAgent
) -> None:
    env = await send(tenant, body(tenant, "nobody_001"))
    assert env.raw == {
        "status": "-24",
        "reason": "Data unexisting: account nobody_001 does not exist",
        "data": None,
    }
    theirs = await add_phone(rt, other_tenant)
    env = await send(tenant, body(tenant, theirs.name))
    assert env.code == "-24" and theirs.name in env.reason
    assert await seat_status(rt, theirs.key_id) == agents.AgentStatus.OFFLINE


async def test_a_callee_without_a_rate_is_minus_26(
    rt: Runtime, app: Any, clock: FixedClock
) -> None:
    unrated = await make_tenant(rt, app, clock, "unrated", rate=None)
    seat = await add_phone(rt, unrated)
    env = await send(unrated, body(unrated, seat.name))
    assert env.code == "-26" and "callee" in env.reason and "932111111110" in env.reason
    assert await seat_status(rt, seat.key_id) == agents.AgentStatus.OFFLINE
    await unrated.client.aclose()


async def test_no_balance_is_minus_10(tenant: Tenant, rt: Runtime, phone: agents.NewAgent) -> None:
    async with rt.sessions.begin() as session:
        await accounts.set_balance(session, tenant.creds.account_id, Decimal(0), relative=False)
    env = await send(tenant, body(tenant, phone.name))
    assert env.code == "-10"
    assert await seat_status(rt, phone.key_id) == agents.AgentStatus.OFFLINE


async def test_a_phone_in_a_call_is_minus_68(tenant: Tenant, phone: agents.NewAgent) -> None:
    first = await send(tenant, body(tenant, phone.name))
    assert first.code == "0"
    env = await send(tenant, body(tenant, phone.name, callee="932111111119"))
    assert env.raw == {
        "status": "-68",
        "reason": f"The SIP is not in the idle state: account {phone.name}: the phone is busy",
        "data": None,
    }


@pytest.mark.parametrize(
    ("seat", "why"),
    [
        ({"status": agents.AgentStatus.BREAK}, "the phone is on break"),
        ({"status": agents.AgentStatus.WRAP_UP}, "the phone is in wrap-up"),
        ({"enable": False}, "the phone is disabled"),
    ],
)
async def test_a_phone_not_idle_is_minus_68(
    tenant: Tenant, rt: Runtime, seat: dict[str, Any], why: str
) -> None:
    made_seat = await add_phone(rt, tenant, **seat)
    env = await send(tenant, body(tenant, made_seat.name))
    assert (env.code, env.reason) == (
        "-68",
        f"The SIP is not in the idle state: account {made_seat.name}: {why}",
    )


async def test_through_a_trunk_an_unregistered_phone_is_minus_68(
    tenant: Tenant, rt: Runtime, phone: agents.NewAgent
) -> None:
    # a real phone must be registered to be rung (the sandbox's are virtual)
    async with rt.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.id == tenant.creds.account_id).values(trunk="carrier")
        )
    env = await send(tenant, body(tenant, phone.name))
    assert env.code == "-68" and env.reason.endswith("the phone is not registered")


# -- recordSip ------------------------------------------------------------------------------


async def test_record_of_an_unknown_or_foreign_voice_id_is_minus_24(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime
) -> None:
    theirs = await add_phone(rt, other_tenant)
    env = await send(other_tenant, body(other_tenant, theirs.name))
    for voice_id in (env.data, "2203031113381000002", "12ab", "1" * 40):
        got = await record(tenant, voice_id)
        assert got.code == "-24", (voice_id, got.raw)
    # not another kind of call's voiceId either (recordGroup answers those)
    code = await tenant.client.send_code(
        callee="932111111110", text="hello", language="EN", appId=tenant.app_id
    )
    assert (await record(tenant, code.data)).code == "-24"
    assert (await other_tenant.client.record(env.data)).code == "-24"


# -- recordSipQuery -------------------------------------------------------------------------

WINDOW = {"strTime": "2026-03-02T00:00:00+08:00", "endTime": "2026-03-03T00:00:00+08:00"}


async def test_query_pages_and_filters_by_group_and_phone(
    tenant: Tenant, rt: Runtime, clock: FixedClock, worker: Dialer
) -> None:
    first = await add_phone(rt, tenant)
    second = await add_phone(rt, tenant, group="support-team", pet_name="desk-two")
    ids = []
    for seat, callee in ((first, "8613500000003"), (second, "8613500000005")):
        env = await send(tenant, body(tenant, seat.name, callee=callee))
        await made(rt, env.data)
        ids.append(env.data)
        clock.advance(60)
    waiting = await send(tenant, body(tenant, first.name, callee="8613500000000"))
    assert waiting.code == "0"
    env = await query(tenant, size=2, **WINDOW)
    assert env.code == "0"
    assert {k: env.data[k] for k in ("total", "size", "current", "pages", "searchCount")} == {
        "total": 3,
        "size": 2,
        "current": 1,
        "pages": 2,
        "searchCount": True,
    }
    assert [r["voiceId"] for r in env.data["records"]] == ids
    assert [r["callDuration"] for r in env.data["records"]] == [3, 0]
    page2 = await query(tenant, current=2, size=2, **WINDOW)
    # a call not made yet (or in progress) is listed as recordSip answers it
    [last] = page2.data["records"]
    assert last["voiceId"] == waiting.data and last["terminationReason"] in ("queued", "calling")

    async def listed(**filters: str) -> list[str]:
        got = await query(tenant, size=10, **WINDOW, **filters)
        assert got.code == "0", got.raw
        return [r["voiceId"] for r in got.data["records"]]

    assert await listed(sipGroupName="support-team") == [ids[1]]
    assert await listed(groupName="support-team") == [ids[1]]  # the SDK test's key
    assert await listed(sipGroupName=GROUP) == [ids[0], waiting.data]
    assert await listed(phoneName="desk-two") == [ids[1]]
    assert await listed(sipGroupName="", phoneName="") == [ids[0], ids[1], waiting.data]
    assert await listed(sipGroupName=GROUP, phoneName="desk-two") == []


async def test_query_is_only_the_caller_s_phone_calls(
    tenant: Tenant, other_tenant: Tenant, rt: Runtime, phone: agents.NewAgent
) -> None:
    theirs = await add_phone(rt, other_tenant)
    await send(other_tenant, body(other_tenant, theirs.name))
    code = await tenant.client.send_code(
        callee="932111111110", text="hello", language="EN", appId=tenant.app_id
    )
    mine = await send(tenant, body(tenant, phone.name))
    env = await query(tenant, **WINDOW)
    assert [r["voiceId"] for r in env.data["records"]] == [mine.data]
    # and recordGroupQuery does not list phone calls
    group = await tenant.client.query_records(strTime=WINDOW["strTime"], endTime=WINDOW["endTime"])
    assert [r["voiceId"] for r in group.data["records"]] == [code.data]
    # the SDK's own methods reach the same endpoints
    sdk = await tenant.client.query_sip_records(size=10, **WINDOW)
    assert [r["voiceId"] for r in sdk.data["records"]] == [mine.data]
    assert (await tenant.client.record_sip(mine.data)).data["voiceId"] == mine.data


async def test_query_window_over_31_days_is_minus_25(tenant: Tenant) -> None:
    env = await query(
        tenant, strTime="2026-01-01T00:00:00+08:00", endTime="2026-02-02T00:00:01+08:00"
    )
    assert env.code == "-25"
    env = await query(
        tenant, strTime="2026-01-01T00:00:00+08:00", endTime="2026-02-01T00:00:00+08:00"
    )
    assert env.code == "0"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"strTime": "soon", "endTime": WINDOW["endTime"]}, "params.strTime"),
        ({"strTime": WINDOW["strTime"], "endTime": "2026-03-03 00:00:00"}, "params.endTime"),
        ({"strTime": "2026-03-02T00:00:00", "endTime": WINDOW["endTime"]}, "params.strTime"),
    ],
)
async def test_query_times_not_iso_with_offset_are_minus_11(
    tenant: Tenant, params: dict[str, str], field: str
) -> None:
    env = await query(tenant, **params)
    assert env.code == "-11" and field in env.reason


async def test_query_without_params_or_times_is_minus_22(tenant: Tenant) -> None:
    env = await tenant.client._acall("POST", "/voice/recordSipQuery", {"current": 1, "size": 10})
    assert env.code == "-22" and "params.strTime" in env.reason
    env = await query(tenant, strTime=WINDOW["strTime"])
    assert env.code == "-22" and "endTime" in env.reason
    env = await query(tenant, size=101, **WINDOW)
    assert env.code == "-22" and "size" in env.reason
