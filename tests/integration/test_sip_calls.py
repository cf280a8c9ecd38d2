"""Real SIP calls end to end: the dialer runs tasks through a trunk whose far end is SIPp, on
SQLite and PostgreSQL. Each SIPp scenario checks what voxcast records (sipCode, durations,
feedbackValue) and what SIPp saw (it echoes our RTP, so the echo count is what it received)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import pytest
from sqlalchemy import func, select

from tests.integration.dialing import insert_task, records_of, wait_for, wait_status
from tests.integration.receiver import Receiver
from tests.loop_stalls import LoopStalls
from tests.sipp.runner import Sipp, SippResult
from voxcast.audio import PromptCache, RenderPool
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.dialer import store
from voxcast.dialer.engine import Dialer
from voxcast.domain.enums import TaskStatus
from voxcast.runtime import Runtime, open_runtime
from voxcast.services import accounts, rates, trunks
from voxcast.storage.models import Account, CallRecord
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.telephony.sip.aio.carrier import SipCall, SipCarrier
from voxcast.webhooks.sender import PushSender

TEXT = "Hello, this is a reminder about your appointment tomorrow."
PACKETS_PER_SECOND = 50


class FarEnd(Protocol):
    """What a trunk can point at: SIPp, or a third-party peer such as baresip."""

    host: str
    port: int


@dataclass
class SipRig:
    rt: Runtime
    directory: CarrierDirectory
    creds: accounts.Credentials

    async def route_to(self, far: FarEnd, **trunk: object) -> None:
        """Send the account's calls to `far` through a trunk named "sipp"."""
        spec = trunks.TrunkSpec(name="sipp", host=far.host, port=far.port, **trunk)  # type: ignore[arg-type]
        async with self.rt.sessions.begin() as session:
            await trunks.add_trunk(
                session, self.rt.secrets, spec, self.rt.clock.now(), replace=True
            )
            await trunks.use_trunk(session, self.creds.account_id, "sipp")
        await self.directory.refresh()

    def calls(self) -> list[SipCall]:
        carrier = self.directory.carrier_for(self.creds.account_id)
        assert isinstance(carrier, SipCarrier)
        return carrier.calls


@asynccontextmanager
async def sip_rig(settings: Settings) -> AsyncIterator[SipRig]:
    """A real-time runtime whose dialer sends the test account's calls through SIP."""
    settings.sandbox_speed = 1.0
    rt = await open_runtime(settings, SystemClock())
    directory = CarrierDirectory(rt, SandboxCarrier(rt.clock))
    pool = RenderPool(PromptCache.under(settings.data_dir), workers=0)
    dialer = Dialer(rt, directory.carrier_for, pool=pool, worker_id="sip-test")
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name="sip", balance=Decimal(100)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal("0.02"))
    stop = asyncio.Event()
    runner = asyncio.create_task(dialer.run(stop))
    try:
        yield SipRig(rt, directory, creds)
    finally:
        stop.set()
        await runner
        await directory.close()
        await pool.aclose()
        await rt.close()


async def run_task(rig: SipRig, numbers: list[str], **columns: object) -> list[CallRecord]:
    columns.setdefault("text", TEXT)
    task_id = await insert_task(rig.rt, rig.creds.account_id, rig.creds.app_id, numbers, **columns)
    await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
    return await records_of(rig.rt, task_id)


async def finished(sipp: Sipp) -> SippResult:
    try:
        return await sipp.wait(15)
    finally:
        sipp.cleanup()


def talk_seconds(record: CallRecord) -> float:
    assert record.answer_time is not None and record.hangup_time is not None
    return (record.hangup_time - record.answer_time).total_seconds()


def assert_talk(
    record: CallRecord, expected_s: float, stalls: LoopStalls, slack_s: float = 0.3
) -> None:
    """The record's talk time is `expected_s`, give or take `slack_s`, plus the time our loop
    stalled: a far end's BYE (or the prompt's last frames) waited for it, the record says when
    we saw the end."""
    talk = talk_seconds(record)
    assert expected_s - slack_s <= talk <= expected_s + slack_s + stalls.total_s, (
        talk,
        expected_s,
        stalls.total_s,
    )


async def test_answered_call_plays_the_prompt_and_records_the_key(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("answer_dtmf.xml")
        await rig.route_to(sipp)
        [record] = await run_task(rig, ["8613000000000"])
        [call] = rig.calls()
        far = await finished(sipp)
    assert far.ok, far
    assert record.sip_code == "200" and record.termination_code == "200"
    assert record.feedback_value == "1"
    # the rendered speech was played whole: its length in packets, in talk time and in the
    # record's duration; and SIPp received (and echoed) those packets. A frame the pacer
    # dropped as too late (a stalled machine) still took its time
    prompt_s = (call.stats.rtp_sent + call.stats.rtp_dropped) / PACKETS_PER_SECOND
    assert prompt_s > 1.5
    assert_talk(record, prompt_s, loop_stalls)
    assert record.call_duration == math.ceil(talk_seconds(record))
    assert call.stats.rtp_received >= call.stats.rtp_sent - 3
    assert record.charged_duration == 60 and record.cost == Decimal("0.02")


async def test_unanswered_call_is_cancelled_when_ringing_runs_out(settings: Settings) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("ring_until_cancel.xml")
        await rig.route_to(sipp)
        [record] = await run_task(rig, ["8613000000004"], max_ringing_time=2)
        far = await finished(sipp)
    assert far.ok, far  # SIPp saw the CANCEL, answered 487 and got our ACK
    assert record.sip_code == "480"
    assert record.ring_duration == 2
    assert record.call_duration == 0 and record.cost == 0


async def test_callee_hanging_up_mid_prompt_ends_the_call(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("answer_then_hangup.xml", duration_ms=1000)
        await rig.route_to(sipp)
        [record] = await run_task(rig, ["8613000000003"])
        [call] = rig.calls()
        far = await finished(sipp)
    assert far.ok, far  # our 200 to its BYE arrived
    assert record.sip_code == "200"
    assert_talk(record, 1.0, loop_stalls)
    # the prompt played until the BYE: for a second, less what a stall of ours kept from going
    played = call.stats.rtp_sent + call.stats.rtp_dropped
    least = PACKETS_PER_SECOND * (1.0 - loop_stalls.total_s) - 10
    assert least <= played <= PACKETS_PER_SECOND * talk_seconds(record) + 10, (played, least)


@pytest.mark.parametrize("code", [486, 404, 503])
async def test_refused_calls_record_the_far_ends_code(settings: Settings, code: int) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start(f"reject_{code}.xml")
        await rig.route_to(sipp)
        [record] = await run_task(rig, ["8613000000005"])
        far = await finished(sipp)
    assert far.ok, far  # SIPp got the ACK of its final response
    assert record.sip_code == str(code) and record.termination_code == str(code)
    assert record.answer_time is None and record.cost == 0


async def test_digest_challenge_is_answered_once_with_the_trunks_credentials(
    settings: Settings,
) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("auth_401.xml")
        await rig.route_to(sipp, username="voxcast", password="s3cret")
        [record] = await run_task(rig, ["8613000000000"])
        far = await finished(sipp)
    assert far.ok, far  # SIPp checked our digest (verifyauth) before answering
    assert record.sip_code == "200"


async def test_wrong_trunk_password_is_recorded_as_refused(settings: Settings) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("auth_401.xml", timeout_s=5)
        await rig.route_to(sipp, username="voxcast", password="wrong")
        [record] = await run_task(rig, ["8613000000000"])
        sipp.cleanup()  # SIPp counts this call failed: that is the point
    assert record.sip_code == "403"


async def test_a_task_of_several_numbers_through_sipp_records_bills_and_pushes(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    names = ["Ann", "Bartholomew Fitzgerald-Smythe", "Cy"]
    numbers = [f"861300000010{i}" for i in range(len(names))]
    async with Receiver() as receiver, sip_rig(settings) as rig:
        async with rig.rt.sessions.begin() as session:
            await accounts.set_push(
                session,
                rig.rt.secrets,
                rig.creds.app_id,
                url=receiver.url,
                batch=False,
                secret=None,
            )
        sipp = await Sipp.start("answer_hold.xml", calls=len(numbers))
        await rig.route_to(sipp)
        records = await run_task(
            rig,
            numbers,
            text="Hello ${text1}, your parcel arrives tomorrow.",
            infos=[{"text1": n} for n in names],
        )
        calls = {c.request.callee: c for c in rig.calls()}
        async with PushSender(rig.rt, worker_id="sip-test") as sender:
            await sender.deliver_due()
        async with rig.rt.sessions() as session:
            balance = await session.scalar(
                select(Account.balance).where(Account.id == rig.creds.account_id)
            )
        far = await finished(sipp)
    assert far.ok and far.successful_calls == len(numbers), far
    assert [r.sip_code for r in records] == ["200"] * len(numbers)
    # each callee heard their own text: the longer name made a longer prompt
    # (a frame the pacer dropped as too late, on a stalled machine, was part of the prompt)
    sent = [calls[n].stats.rtp_sent + calls[n].stats.rtp_dropped for n in numbers]
    assert sent[1] > sent[0] + 25 and sent[1] > sent[2] + 25
    for record in records:
        stats = calls[record.callee].stats
        played = (stats.rtp_sent + stats.rtp_dropped) / PACKETS_PER_SECOND  # dropped took time
        assert_talk(record, played, loop_stalls)
        assert calls[record.callee].stats.rtp_received >= calls[record.callee].stats.rtp_sent - 3
    assert balance == Decimal(100) - Decimal("0.02") * len(numbers)
    pushed = sorted(p["callee"] for r in receiver.received for p in _reports(r.json()))
    assert pushed == numbers


def _reports(body: object) -> list[dict[str, object]]:
    return body if isinstance(body, list) else [body]  # type: ignore[list-item,return-value]


async def test_voice_otp_digits_are_spoken_one_by_one_loop_count_times(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    from voxcast.domain.enums import TaskKind

    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("answer_hold.xml", calls=2)
        await rig.route_to(sipp)
        once, twice = [
            await run_task(
                rig,
                ["8613000000000"],
                kind=TaskKind.CODE,
                task_name=None,
                text="Your code is 1264",
                loop_count=loops,
                infos=[{"calledInfo": "order 42"}],
            )
            for loops in (1, 2)
        ]
        calls = rig.calls()
        far = await finished(sipp)
    assert far.ok, far
    # a frame the pacer dropped as too late (a stalled machine) still took its time
    single, double = (c.stats.rtp_sent + c.stats.rtp_dropped for c in calls)
    assert double == 2 * single  # loopCount plays the whole prompt again
    # "1264" read digit by digit takes longer than the plain words alone would
    assert single / PACKETS_PER_SECOND > 2.0
    assert [r.called_info for r in once + twice] == ["order 42", "order 42"]
    assert_talk(twice[0], double / PACKETS_PER_SECOND, loop_stalls)


async def test_the_opt_out_key_lists_the_callee_plays_the_confirmation_and_hangs_up(
    settings: Settings, loop_stalls: LoopStalls
) -> None:
    async with sip_rig(settings) as rig:
        sipp = await Sipp.start("answer_dtmf.xml")  # presses 1 one second after the answer
        await rig.route_to(sipp)
        task_id = await insert_task(
            rig.rt,
            rig.creds.account_id,
            rig.creds.app_id,
            ["8613000000001"],
            params={"optOutKey": "1"},
            loop_count=3,
        )
        states: list[tuple[bool, bool]] = []

        async def listed() -> bool:
            # the number is on the list while the call still runs: not yet recorded
            async with rig.rt.sessions() as session:
                found = await store.listed_numbers(
                    session, rig.creds.account_id, rig.creds.app_id, ["8613000000001"]
                )
                recorded = await session.scalar(
                    select(func.count())
                    .select_from(CallRecord)
                    .where(CallRecord.task_id == task_id)
                )
            states.append((bool(found), recorded == 0))
            return bool(found)

        await wait_for(listed, timeout=30, interval=0.02)
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        [record] = await records_of(rig.rt, task_id)
        [call] = rig.calls()
        far = await finished(sipp)
    assert far.ok, far  # SIPp got our BYE after the confirmation
    assert states[-1] == (True, True)
    assert record.feedback_value == "1" and record.termination_code == "200"
    opt_out = call.request.opt_out
    assert opt_out is not None and opt_out.confirmation.ref.startswith("tts:")
    confirmation = opt_out.confirmation.duration_s
    # the prompt for a second (and the digit's length), then the confirmation only: not the
    # rest of three loops of the prompt (a stall of ours sees the key later)
    sent_s = (call.stats.rtp_sent + call.stats.rtp_dropped) / PACKETS_PER_SECOND
    assert confirmation + 1.0 <= sent_s <= confirmation + 1.0 + 0.6 + loop_stalls.total_s
    assert_talk(record, sent_s, loop_stalls)
    assert call.stats.rtp_received >= call.stats.rtp_sent - 3
