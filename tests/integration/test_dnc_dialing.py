"""A listed number is never dialed, on SQLite and PostgreSQL, through the real API and a real
sandbox dialer: listed after submission (even while its task runs) it is recorded as not dialed
(608); sendCode, transfer tasks and resends alike; a key-press opt-out lands on the list at
once, hears its confirmation and is hung up on; the calling-hours guard holds callees outside
their local hours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.integration.dialing import Rig, dialer_rig, records_of, wait_for, wait_status
from voxcast import compliance
from voxcast.api.app import create_app
from voxcast.client import AsyncVoxcastClient
from voxcast.config import Settings
from voxcast.domain.enums import CalleeState, TaskStatus
from voxcast.ports import Call, CallEvent, Carrier, DialRequest, Dtmf, PhoneLeg, ReservedAgent
from voxcast.services import accounts, agents, rates
from voxcast.storage.models import Callee, CallRecord, Task
from voxcast.telephony.sandbox import KEY_AFTER_PROMPT_START_S

PROMPT = "Hello, this is a reminder about your appointment tomorrow at ten in the morning."


class Recording:
    """The sandbox carrier, noting every number actually dialed (and each request)."""

    virtual_agents = True

    def __init__(self, inner: Carrier) -> None:
        self.inner = inner
        self.dialed: list[str] = []
        self.requests: list[DialRequest] = []
        #: called when the dialer has taken a Dtmf and asks for the next event
        self.after_key: Callable[[DialRequest], Awaitable[None]] | None = None
        #: while not set, a dial waits after it was noted (the call is up, not yet ringing)
        self.hold: asyncio.Event | None = None

    async def dial(self, request: DialRequest) -> Call:
        self.dialed.append(request.callee)
        self.requests.append(request)
        if self.hold is not None:
            await self.hold.wait()
        call = await self.inner.dial(request)
        return Watched(call, request, self) if self.after_key is not None else call

    async def ring_phone(self, phone: ReservedAgent, caller: str) -> PhoneLeg:
        return await self.inner.ring_phone(phone, caller)

    async def close(self) -> None:
        await self.inner.close()


class Watched:
    """A call whose consumer is checked on right after it took each key press."""

    def __init__(self, inner: Call, request: DialRequest, carrier: Recording) -> None:
        self.inner, self.request, self.carrier = inner, request, carrier

    async def events(self) -> AsyncIterator[CallEvent]:
        async for event in self.inner.events():
            yield event
            if isinstance(event, Dtmf) and self.carrier.after_key is not None:
                await self.carrier.after_key(self.request)

    async def hangup(self) -> None:
        await self.inner.hangup()


@dataclass
class Setup:
    rig: Rig
    carrier: Recording
    creds: accounts.Credentials
    client: AsyncVoxcastClient


@asynccontextmanager
async def running(
    settings: Settings, speed: float = 50, start: datetime | None = None, **account: Any
) -> AsyncIterator[Setup]:
    carriers: list[Recording] = []

    def wrap(inner: Carrier) -> Carrier:
        carriers.append(Recording(inner))
        return carriers[-1]

    async with dialer_rig(settings, speed=speed, start=start, wrap=wrap) as rig:
        rt = rig.rt
        async with rt.sessions.begin() as session:
            creds = await accounts.create_account(
                session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal(100)
            )
            await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
            if account:
                await accounts.update_settings(session, creds.account_id, **account)
        async with AsyncVoxcastClient(
            "http://vc",
            creds.api_key,
            creds.api_secret,
            transport=httpx.ASGITransport(app=create_app(rt)),
            timestamp=lambda: int(rt.clock.now().timestamp()),
        ) as client:
            yield Setup(rig, carriers[0], creds, client)


async def send(s: Setup, name: str, numbers: list[str], **fields: Any) -> int:
    env = await s.client.send_group_call(
        appId=s.creds.app_id,
        taskName=name,
        source=3,
        text=PROMPT,
        lan="EN",
        loopCount=1,
        maxCalls=60,
        numberInfoList=[{"calleeNumber": n} for n in numbers],
        **fields,
    )
    assert env.code == "0", env.reason
    return int(env.data)


def later(s: Setup, seconds: int) -> str:
    """A sendTime `seconds` of sandbox time from now (the account's zone is UTC)."""
    return (s.rig.rt.clock.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


async def callee_state(s: Setup, task_id: int, number: str) -> Callee:
    async with s.rig.rt.sessions() as session:
        row = await session.scalar(
            select(Callee).where(Callee.task_id == task_id, Callee.callee == number)
        )
    assert row is not None
    return row


def not_dialed(rec: CallRecord) -> None:
    assert (rec.termination_code, rec.termination_reason) == ("608", "do not call")
    assert rec.call_duration == 0 and rec.cost == 0 and rec.answer_time is None


async def test_a_number_listed_while_its_task_runs_is_not_dialed(settings: Settings) -> None:
    # one channel: the second callee waits for the first call, during which it is listed
    # the first call is held inside the carrier's dial until the number is listed, so a
    # stalled test process cannot let the call end (and the second be dialed) first
    async with running(settings, max_channels=1) as s:
        s.carrier.hold = asyncio.Event()
        task_id = await send(s, "running", ["8613000000009", "8613000000000"])

        async def first_call_up() -> bool:
            return s.carrier.dialed == ["8613000000009"]

        await wait_for(first_call_up)
        assert (await callee_state(s, task_id, "8613000000009")).state == CalleeState.DIALING
        added = await s.client.dnc_add(["+86 130 0000 0000"], app_id=s.creds.app_id)
        assert added.data["count"] == 1
        s.carrier.hold.set()
        await wait_status(s.rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        await s.rig.dialer.recorder.flushed()
        first, second = await records_of(s.rig.rt, task_id)
        detail = await s.client.group_call_detail(task_id)
    assert s.carrier.dialed == ["8613000000009"]
    assert first.callee == "8613000000000"
    not_dialed(first)
    assert second.termination_code == "200"
    assert detail.data["dncCount"] == 0  # listed after submission: shown by its record


async def test_transfer_and_send_code_callees_listed_after_submission_are_not_dialed(
    settings: Settings,
) -> None:
    async with running(settings, speed=20) as s:
        rt = s.rig.rt
        async with rt.sessions.begin() as session:
            group = await agents.add_group(
                session, s.creds.account_id, s.creds.app_id, "desk", rt.clock.now()
            )
            await agents.add_agents(
                session, rt.secrets, s.creds.account_id, group.id, 2, None, None, rt.clock.now()
            )
        # both wait a minute of sandbox time (3 s) before dialing: listed meanwhile
        transfer = await send(
            s, "to agents", ["8613000000001", "8613000000000"], toSeat=1,
            sipGroupId=group.id, outboundControl=1, calloutRate=1, toSeatType=1,
            sendTime=later(s, 60),
        )  # fmt: skip
        # the code call is due at once: the dialer holds its claims until the number is
        # listed, so "after submission, before the dial" does not race the next tick
        s.rig.dialer.claiming = False
        code = await s.client.send_code(
            appId=s.creds.app_id, callee="8613000000010", text="Your code is 1234",
            language="EN", recallCount=2, recallInterval=1,
        )  # fmt: skip
        assert code.code == "0", code.reason
        await s.client.dnc_add(["8613000000001", "008613000000010"])
        s.rig.dialer.claiming = True
        await wait_status(rt, transfer, TaskStatus.FINISHED, timeout=60)

        async def code_recorded() -> bool:
            return (await s.client.record(str(code.data))).code == "0"

        await wait_for(code_recorded)
        record = await s.client.record(str(code.data))
        (_dialed, listed) = await records_of(rt, transfer)
    assert s.carrier.dialed == ["8613000000000"]
    assert listed.callee == "8613000000001"
    not_dialed(listed)
    assert record.data["terminationCode"] == "608"
    assert record.data["callDuration"] == 0


async def test_a_resend_leaves_out_numbers_listed_since(settings: Settings) -> None:
    async with running(settings) as s:
        first = await send(s, "first", ["8613000000005", "8613000000004", "8613000000000"])
        await wait_status(s.rig.rt, first, TaskStatus.FINISHED, timeout=60)
        await s.client.dnc_add(["8613000000005"])
        env = await s.client.resend_group_call(keyId=first, taskName="again", resendType=1)
        assert env.code == "0", env.reason
        again = int(env.data)
        detail = await s.client.group_call_detail(again)
        assert (detail.data["numCnt"], detail.data["dncCount"]) == (1, 1)
        await wait_status(s.rig.rt, again, TaskStatus.FINISHED, timeout=60)
    assert sorted(s.carrier.dialed) == sorted(
        ["8613000000005", "8613000000004", "8613000000000", "8613000000004"]
    )


async def test_the_opt_out_key_lists_the_callee_and_ends_the_call(settings: Settings) -> None:
    async with running(settings) as s:
        listed_at_key: list[tuple[str, bool, bool]] = []

        async def check(request: DialRequest) -> None:
            # the dialer took the key: the number is on the list now, while the confirmation
            # plays and before the call (let alone its record) is over
            found = await s.client.dnc_query(appId=s.creds.app_id)
            numbers = [e["number"] for e in found.data["records"]]
            async with s.rig.rt.sessions() as session:
                recorded = await session.scalar(
                    select(func.count())
                    .select_from(CallRecord)
                    .where(CallRecord.callee == request.callee)
                )
            listed_at_key.append((request.callee, f"+{request.callee}" in numbers, recorded == 0))

        s.carrier.after_key = check
        task_id = await send(s, "opt out", ["8613000000001", "8613000000000"], optOutKey="1")
        await wait_status(s.rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        await s.rig.dialer.recorder.flushed()
        listened, pressed = await records_of(s.rig.rt, task_id)
        entries = await s.client.dnc_query(appId=s.creds.app_id)
        trail = await s.client.dnc_audit("8613000000001")
        again = await send(s, "later", ["8613000000001", "8613000000000"])
        detail = await s.client.group_call_detail(again)
    assert listed_at_key == [("8613000000001", True, True)]
    assert [(e["number"], e["source"]) for e in entries.data["records"]] == [
        ("+8613000000001", "key")
    ]
    [change] = trail.data
    assert (change["action"], change["source"], change["appId"]) == ("add", "key", s.creds.app_id)
    assert change["actor"] == f"task {task_id} call {pressed.voice_id}"
    # the confirmation, in the task's language (English), rendered like the prompt
    # (the later task "again" has no opt-out key: its calls, dialed or not yet, carry None)
    [opt_out] = {r.opt_out for r in s.carrier.requests if r.opt_out is not None}
    assert opt_out is not None and opt_out.key == "1"
    assert opt_out.confirmation.ref.startswith("tts:")
    assert opt_out.confirmation.duration_s > 1.0 and opt_out.confirmation.duration_s < 5.0
    # the key came one second into the prompt; the confirmation played, then the call ended
    assert pressed.feedback_value == "1" and pressed.termination_code == "200"
    assert pressed.hangup_time is not None and pressed.answer_time is not None
    talk = (pressed.hangup_time - pressed.answer_time).total_seconds()
    assert abs(talk - KEY_AFTER_PROMPT_START_S - opt_out.confirmation.duration_s) < 0.3
    assert pressed.call_duration < listened.call_duration
    assert (detail.data["numCnt"], detail.data["dncCount"]) == (1, 1)


async def test_callees_outside_the_calling_hours_wait_for_them(settings: Settings) -> None:
    # 02:00 UTC: 10:00 in Shanghai, 21:00 in New York (the end of 08:00-21:00 is outside)
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    async with running(settings, start=start, calling_hours="08:00-21:00") as s:
        task_id = await send(s, "hours", ["8613000000000", "12025550100"])

        async def china_called() -> bool:
            return (await callee_state(s, task_id, "8613000000000")).state == CalleeState.DONE

        await wait_for(china_called, timeout=60)
        for _ in range(5):  # a few more ticks: the US callee is still held
            await s.rig.dialer.tick()
        us = await callee_state(s, task_id, "12025550100")
        async with s.rig.rt.sessions() as session:
            status = await session.scalar(select(Task.status).where(Task.id == task_id))
    assert s.carrier.dialed == ["8613000000000"]
    assert (us.state, us.attempts) == (CalleeState.PENDING, 0)
    assert us.next_attempt_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert status == TaskStatus.CALLING


def test_calling_hours_use_every_zone_of_a_number() -> None:
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert compliance.held_until("08:00-21:00", "8613000000000", at) is None
    assert compliance.held_until(None, "12025550100", at) is None
    # a Russian mobile may be anywhere from Kaliningrad to Kamchatka: wait until 08:00 in the
    # westernmost zone
    held = compliance.held_until(
        "08:00-21:00", "79161234567", datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    )
    assert held is not None and held > datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
