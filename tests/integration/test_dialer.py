"""The dialer over the sandbox carrier, on SQLite and PostgreSQL: outcomes, records, billing,
pacing, windows, pause/resume/cancel, balance exhaustion, SMS triggers and recall rounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from tests.integration.dialing import (
    LimitlessSandbox,
    dialer_rig,
    insert_task,
    records_of,
    task_status,
    wait_for,
    wait_status,
)
from voxcast.config import Settings
from voxcast.domain.enums import RecallStatus, TaskStatus
from voxcast.runtime import Runtime
from voxcast.services import accounts, rates
from voxcast.storage.models import Account, RecallFlow, RecallNode, SmsMessage, Task

DEFAULT_TEXT = "Hello, this is a reminder about your appointment tomorrow."
ALL_DIGITS = [f"861300000000{d}" for d in range(10)]


async def new_account(
    rt: Runtime, balance: str = "100", rate: str = "0.02", **limits: object
) -> accounts.Credentials:
    async with rt.sessions.begin() as session:
        creds = await accounts.create_account(
            session, rt.secrets, rt.clock.now(), name="acme", balance=Decimal(balance)
        )
        await rates.set_rate(session, creds.account_id, "", Decimal(rate))
        if limits:
            await session.execute(
                update(Account).where(Account.id == creds.account_id).values(**limits)
            )
    return creds


async def test_every_sandbox_digit_produces_the_documented_record(settings: Settings) -> None:
    async with dialer_rig(settings) as rig:
        creds = await new_account(rig.rt)
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ALL_DIGITS, max_ringing_time=30
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        recs = {r.callee[-1]: r for r in await records_of(rig.rt, task_id)}
    assert len(recs) == 10
    expected_sip = {
        "0": "200",
        "1": "200",
        "2": "200",
        "3": "200",
        "4": "480",
        "5": "486",
        "6": "603",
        "7": "404",
        "8": "503",
        "9": "200",
    }
    assert {d: r.sip_code for d, r in recs.items()} == expected_sip
    assert {d: r.termination_code for d, r in recs.items()} == expected_sip
    assert recs["1"].feedback_value == "1"
    assert recs["2"].feedback_value == "2"
    assert recs["0"].feedback_value == "-1"
    assert recs["4"].ring_duration == 30  # maxRingingTime
    assert recs["4"].call_duration == 0 and recs["4"].charged_duration == 0
    assert recs["9"].ring_duration == 10
    assert recs["3"].call_duration == 3
    for r in recs.values():
        assert r.voice_id and len(r.voice_id) == 19
        assert r.call_time is not None and r.hangup_time is not None
        assert r.hangup_time >= r.call_time


async def test_billing_rounds_by_bill_period_and_debits_the_balance(settings: Settings) -> None:
    async with dialer_rig(settings) as rig:
        creds = await new_account(rig.rt, balance="10", rate="0.06", bill_period="20+20")
        # digit 3 talks exactly 3 s; digit 0 plays the prompt (about 4 s); digit 5 is busy
        numbers = ["8613000000003", "8613000000000", "8613000000005"]
        task_id = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers)
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        recs = {r.callee[-1]: r for r in await records_of(rig.rt, task_id)}
        async with rig.rt.sessions() as session:
            balance = await session.scalar(
                select(Account.balance).where(Account.id == creds.account_id)
            )
    assert recs["3"].charged_duration == 20 and recs["3"].bill_period == "20+20"
    assert recs["3"].cost == Decimal("0.020000")  # 0.06/min for 20 s
    assert recs["5"].charged_duration == 0 and recs["5"].cost == 0
    total = sum((r.cost for r in recs.values()), Decimal(0))
    assert balance == Decimal("10") - total


async def test_max_calls_forces_hang_up_after_answer(settings: Settings) -> None:
    # the callee is told of no limit: nine loops of the prompt would last over half a minute,
    # so only the dialer's own maxCalls can end the call after 7 s
    async with dialer_rig(settings, carrier=LimitlessSandbox) as rig:
        creds = await new_account(rig.rt, bill_period="1+1")
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ["8613000000000"], loop_count=9, max_calls=7
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        (rec,) = await records_of(rig.rt, task_id)
    assert rec.answer_time is not None and rec.hangup_time is not None
    assert rec.hangup_time - rec.answer_time == timedelta(seconds=7)  # at the limit exactly
    assert (rec.call_duration, rec.charged_duration, rec.sip_code) == (7, 7, "200")


async def test_max_ringing_time_gives_up_on_a_callee_who_rings_on(settings: Settings) -> None:
    # the callee is told of no limit and rings all day: only the dialer's own maxRingingTime
    # can give up on it, 30 s after it started ringing
    async with dialer_rig(settings, carrier=LimitlessSandbox) as rig:
        creds = await new_account(rig.rt)
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ["8613000000004"], max_ringing_time=30
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        (rec,) = await records_of(rig.rt, task_id)
    assert rec.ringing_time is not None and rec.hangup_time is not None
    assert rec.hangup_time - rec.ringing_time == timedelta(seconds=30)
    assert (rec.sip_code, rec.termination_code, rec.termination_reason) == (
        "480",
        "480",
        "no answer",
    )
    assert (rec.ring_duration, rec.call_duration, rec.cost) == (30, 0, 0)


async def test_pacing_never_exceeds_cps_or_channels(settings: Settings) -> None:
    async with dialer_rig(settings, speed=50) as rig:
        creds = await new_account(rig.rt, max_cps=4, max_channels=6)
        numbers = [f"86130000{i:05d}0" for i in range(40)]
        # speech rendered beforehand, so both tasks are ready to dial at about the same time
        from voxcast.audio import choose_voice

        await rig.dialer.prompts.pool.render(DEFAULT_TEXT, choose_voice("EN"))
        t1 = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers[:20])
        t2 = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers[20:])
        await wait_status(rig.rt, t1, TaskStatus.FINISHED, timeout=60)
        await wait_status(rig.rt, t2, TaskStatus.FINISHED, timeout=60)
        recs = await records_of(rig.rt, t1) + await records_of(rig.rt, t2)
    assert len(recs) == 40
    starts = sorted(r.call_time for r in recs if r.call_time)
    for i, s in enumerate(starts):
        in_window = [x for x in starts[i:] if x < s + timedelta(seconds=1)]
        assert len(in_window) <= 4, f"{len(in_window)} calls started within 1 s of {s}"
    events = sorted(
        [(r.call_time, 1) for r in recs] + [(r.hangup_time, -1) for r in recs],
        key=lambda e: (e[0], e[1]),
    )
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    assert peak <= 6
    # fair between the account's two tasks: once both are calling, both progress. (Each task
    # first renders its speech, so one may start a little before the other.)
    both_calling = max(min(r.call_time for r in recs if r.task_id == t) for t in (t1, t2))
    next_ten = sorted((r for r in recs if r.call_time >= both_calling), key=lambda r: r.call_time)[
        :10
    ]
    assert {r.task_id for r in next_ten} == {t1, t2}
    counts = [sum(r.task_id == t for r in next_ten) for t in (t1, t2)]
    assert min(counts) >= 2, counts


async def test_calls_only_start_inside_a_window_crossing_midnight(settings: Settings) -> None:
    start = datetime(2026, 3, 2, 21, 59, 50, tzinfo=UTC)
    async with dialer_rig(settings, speed=100, start=start) as rig:
        creds = await new_account(rig.rt)
        window = {"allowSendTime": [{"strTime": "22:00", "endTime": "01:00"}]}
        task_id = await insert_task(
            rig.rt,
            creds.account_id,
            creds.app_id,
            ["8613000000000", "8613000000005"],
            params=window,
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        recs = await records_of(rig.rt, task_id)
    for r in recs:
        local = r.call_time.time()
        assert (
            local >= datetime(2026, 1, 1, 22, 0).time() or local < datetime(2026, 1, 1, 1, 0).time()
        )


async def test_pause_stops_new_calls_and_resume_finishes(settings: Settings) -> None:
    async with dialer_rig(settings, speed=20) as rig:
        creds = await new_account(rig.rt, max_cps=2, max_channels=2)
        numbers = [f"86130000{i:05d}0" for i in range(30)]
        task_id = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers)
        await wait_status(rig.rt, task_id, TaskStatus.CALLING)
        await wait_for(lambda: _count_records(rig.rt, task_id, at_least=2))
        async with rig.rt.sessions.begin() as session:
            await session.execute(
                update(Task).where(Task.id == task_id).values(status=TaskStatus.SUSPENDED)
            )
        paused_at = rig.clock.now()
        await rig.clock.sleep(30)  # half a minute of sandbox time
        recs = await records_of(rig.rt, task_id)
        late = [r for r in recs if r.call_time > paused_at + timedelta(seconds=1 * 20)]
        assert not late, "calls started more than one second after the pause"
        assert len(recs) < 30
        async with rig.rt.sessions.begin() as session:
            await session.execute(
                update(Task).where(Task.id == task_id).values(status=TaskStatus.WAITING)
            )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        assert len(await records_of(rig.rt, task_id)) == 30


async def _count_records(rt: Runtime, task_id: int, at_least: int) -> bool:
    return len(await records_of(rt, task_id)) >= at_least


async def test_task_stops_cleanly_when_the_balance_runs_out(settings: Settings) -> None:
    async with dialer_rig(settings, speed=50) as rig:
        # each answered call costs 1.00 (60+60 billing, 1.00/min). One channel: a call starts
        # only once the previous one is recorded and charged, so 2.50 lasts exactly three
        # calls (2.50 -> 1.50 -> 0.50 -> -0.50) and no fourth starts
        creds = await new_account(rig.rt, balance="2.5", rate="1", max_cps=1, max_channels=1)
        numbers = [f"86130000{i:05d}0" for i in range(10)]
        task_id = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers)
        await wait_status(rig.rt, task_id, TaskStatus.SUSPENDED, timeout=60)
        await rig.clock.sleep(20)  # room for a call that should not start
        async with rig.rt.sessions() as session:
            task = await session.get(Task, task_id)
            assert task is not None
            reason = task.status_reason
            balance = await session.scalar(
                select(Account.balance).where(Account.id == creds.account_id)
            )
        recs = await records_of(rig.rt, task_id)
    assert reason == "balance exhausted: top up, then resume the task"
    assert sorted(r.callee for r in recs) == numbers[:3]
    assert [(r.charged_duration, r.cost) for r in recs] == [(60, Decimal("1.000000"))] * 3
    assert balance == Decimal("-0.5")


async def test_hang_up_sms_fires_on_the_key_with_variables_filled(settings: Settings) -> None:
    params = {
        "hangUpSms": 1,
        "smsAppId": "sms1",
        "senderId": "ACME",
        "smsContent": "Hi ${text1}, pay at ${text2}",
        "feedbackPush": 1,
        "feedbackValue": "1",
        "failedPush": 1,
    }
    async with dialer_rig(settings) as rig:
        creds = await new_account(rig.rt)
        task_id = await insert_task(
            rig.rt,
            creds.account_id,
            creds.app_id,
            ["8613000000001", "8613000000002", "8613000000005"],
            params=params,
            infos=[{"text1": "Tom", "text2": "x.io"}, {"text1": "Ann"}, {"text1": "Bob"}],
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED)
        async with rig.rt.sessions() as session:
            sms = list(
                (
                    await session.scalars(
                        select(SmsMessage)
                        .where(SmsMessage.task_id == task_id)
                        .order_by(SmsMessage.number)
                    )
                ).all()
            )
    assert [(m.number, m.trigger, m.content) for m in sms] == [
        ("8613000000001", "feedback", "Hi Tom, pay at x.io"),
        ("8613000000005", "failed", "Hi Bob, pay at "),
    ]


async def test_recall_rounds_redial_only_the_failed_numbers(settings: Settings) -> None:
    async with dialer_rig(settings, speed=200) as rig:
        creds = await new_account(rig.rt)
        numbers = ["8613000000000", "8613000000005", "8613000000007"]
        task_id = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers)
        now = rig.clock.now()
        async with rig.rt.sessions.begin() as session:
            flow = RecallFlow(
                account_id=creds.account_id,
                task_id=task_id,
                recall_type=1,
                recall_interval=1,
                recall_num=2,
                finish_num=0,
                status=0,
                created_at=now,
            )
            session.add(flow)
            await session.flush()
            for seq in (1, 2):
                session.add(RecallNode(flow_id=flow.id, seq=seq, status=0, params={}))
            flow_id = flow.id

        async def flow_done() -> bool:
            async with rig.rt.sessions() as session:
                f = await session.get(RecallFlow, flow_id)
                return f is not None and f.status == RecallStatus.COMPLETED

        await wait_for(flow_done, timeout=60)
        async with rig.rt.sessions() as session:
            nodes = list(
                (
                    await session.scalars(
                        select(RecallNode)
                        .where(RecallNode.flow_id == flow_id)
                        .order_by(RecallNode.seq)
                    )
                ).all()
            )
            flow_row = await session.get(RecallFlow, flow_id)
            assert flow_row is not None and flow_row.finish_num == 2
        assert all(n.status == RecallStatus.COMPLETED for n in nodes)
        for node in nodes:
            assert node.task_id is not None
            recs = await records_of(rig.rt, node.task_id)
            assert sorted(r.callee for r in recs) == ["8613000000005", "8613000000007"]
            assert {r.out_recall_count for r in recs} == {node.seq}
        parent = await task_status(rig.rt, task_id)
    assert parent == TaskStatus.FINISHED


async def test_per_callee_windows_use_each_numbers_local_time(settings: Settings) -> None:
    # 01:00 UTC is 09:00 in Shanghai (window open) and 20:00 in New York (closed until 09:00)
    start = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)
    params = {
        "allowSendTime": [{"strTime": "09:00", "endTime": "17:00"}],
        "allowSendTimeZone": "callee",
    }
    async with dialer_rig(settings, speed=20, start=start) as rig:
        creds = await new_account(rig.rt)
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ["8613000000000", "12125550100"], params=params
        )
        await wait_for(lambda: _count_records(rig.rt, task_id, at_least=1))
        await rig.clock.sleep(10)
        recs = await records_of(rig.rt, task_id)
        async with rig.rt.sessions() as session:
            from voxcast.storage.models import Callee

            us = (
                await session.scalars(
                    select(Callee).where(Callee.task_id == task_id, Callee.callee == "12125550100")
                )
            ).one()
    assert [r.callee for r in recs] == ["8613000000000"]
    assert us.state == 0 and us.attempts == 0
    assert us.next_attempt_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


async def test_voice_otp_redials_and_records_only_the_last_attempt(settings: Settings) -> None:
    from voxcast.domain.enums import TaskKind
    from voxcast.storage.models import Callee, CallRecord

    async with dialer_rig(settings, speed=200) as rig:
        creds = await new_account(rig.rt)
        params = {"recallCount": 2, "recallInterval": 1, "calledInfo": "order 42"}
        task_id = await insert_task(
            rig.rt,
            creds.account_id,
            creds.app_id,
            ["8613000000005"],
            params=params,
            kind=TaskKind.CODE,
            task_name=None,
            text="Your code is 1 2 6 4",
            infos=[{"calledInfo": "order 42"}],
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        async with rig.rt.sessions() as session:
            callee = (await session.scalars(select(Callee).where(Callee.task_id == task_id))).one()
            recs = list(
                (
                    await session.scalars(select(CallRecord).where(CallRecord.task_id == task_id))
                ).all()
            )
    assert callee.attempts == 3  # the first call and two recalls
    assert len(recs) == 1
    (rec,) = recs
    assert rec.type == 2 and rec.sip_code == "486"
    assert rec.called_info == "order 42"
    assert rec.voice_id == callee.voice_id
    # the last attempt started at least two recall intervals after the first
    assert rec.call_time - rec.submit_time >= timedelta(minutes=2)


async def test_per_callee_speech_is_rendered_and_its_length_is_played(settings: Settings) -> None:
    long_name = "Maximilian Alexander Bartholomew"[:30]
    async with dialer_rig(settings) as rig:
        creds = await new_account(rig.rt, bill_period="1+1")
        task_id = await insert_task(
            rig.rt,
            creds.account_id,
            creds.app_id,
            ["8613000000000", "8613000000010"],
            text="Hello ${text1}, your parcel arrives tomorrow.",
            max_calls=120,
            infos=[{"text1": "Tom"}, {"text1": long_name + " " + long_name}],
        )
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=60)
        recs = {r.callee: r for r in await records_of(rig.rt, task_id)}
    short, long = recs["8613000000000"], recs["8613000000010"]
    assert short.call_duration >= 1 and short.call_duration < long.call_duration
    assert short.charged_duration == short.call_duration  # 1+1 billing


async def test_task_whose_speech_cannot_be_rendered_fails_before_dialing(
    settings: Settings,
) -> None:
    async with dialer_rig(settings) as rig:
        creds = await new_account(rig.rt)
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ["8613000000000"], text="...!!!"
        )
        await wait_status(rig.rt, task_id, TaskStatus.SUBMIT_FAILED, timeout=30)
        async with rig.rt.sessions() as session:
            task = await session.get(Task, task_id)
            assert task is not None
            reason = task.status_reason
        recs = await records_of(rig.rt, task_id)
    assert recs == []
    assert "text-to-speech" in reason


async def test_cancel_stops_new_calls_within_a_second(settings: Settings) -> None:
    async with dialer_rig(settings, speed=20) as rig:
        creds = await new_account(rig.rt, max_cps=2, max_channels=2)
        numbers = [f"86130000{i:05d}0" for i in range(30)]
        task_id = await insert_task(rig.rt, creds.account_id, creds.app_id, numbers)
        await wait_for(lambda: _count_records(rig.rt, task_id, at_least=2))
        async with rig.rt.sessions.begin() as session:
            await session.execute(
                update(Task).where(Task.id == task_id).values(status=TaskStatus.CANCELED)
            )
        cancelled_at = rig.clock.now()
        await rig.clock.sleep(40)
        recs = await records_of(rig.rt, task_id)
    assert all(r.call_time <= cancelled_at + timedelta(seconds=20) for r in recs)
    assert len(recs) < 30


async def test_voice_otp_and_send_group_from_the_api_are_dialed(settings: Settings) -> None:
    import httpx

    from tests.unit.audio.audiofiles import audio_b64
    from voxcast.api.app import create_app
    from voxcast.client import AsyncVoxcastClient
    from voxcast.storage.models import CallRecord

    async with dialer_rig(settings, speed=50) as rig:
        creds = await new_account(rig.rt)
        client = AsyncVoxcastClient(
            "http://vc",
            creds.api_key,
            creds.api_secret,
            transport=httpx.ASGITransport(app=create_app(rig.rt)),
            timestamp=lambda: int(rig.clock.now().timestamp()),
        )
        async with client:
            otp = await client.send_code(
                callee="8613000000001",
                language="EN",
                text="Your code is 4821",
                appId=creds.app_id,
                loopCount=2,
            )
            upload = await client.upload_file("notice.wav", audio_b64("wav", 3.0))
            group = await client.send_group(
                callee="8613000000000,8613000000005", fileId=upload.data, appId=creds.app_id
            )
            assert otp.code == "0" and group.code == "0", (otp.reason, group.reason)
            ids = [otp.data] + [g["voiceId"] for g in group.data]

            async def all_recorded() -> bool:
                async with rig.rt.sessions() as session:
                    found = await session.scalars(
                        select(CallRecord.voice_id).where(CallRecord.voice_id.in_(ids))
                    )
                    return len(found.all()) == 3

            await wait_for(all_recorded, timeout=60)
            code = (await client.record(otp.data)).data
            answered = (await client.record(group.data[0]["voiceId"])).data
            busy = (await client.record(group.data[1]["voiceId"])).data
    assert code["type"] == 2 and code["feedbackValue"] == "1"
    # two loops of the spoken code: several seconds of real rendered speech
    assert code["callDuration"] >= 4
    assert answered["type"] == 1 and answered["callDuration"] == 3  # the 3.0 s file, once
    assert busy["sipCode"] == "486"


async def test_task_starts_at_its_send_time(settings: Settings) -> None:
    start = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    # 20x: the account's set-up under load must not eat the two minutes (at 200x 0.3 s of
    # wall time did, and the task was due before the test looked)
    async with dialer_rig(settings, speed=20, start=start) as rig:
        creds = await new_account(rig.rt)
        send_at = rig.clock.now() + timedelta(minutes=2)
        task_id = await insert_task(
            rig.rt, creds.account_id, creds.app_id, ["8613000000000"], send_time=send_at
        )
        await rig.clock.sleep(60)
        assert await task_status(rig.rt, task_id) == TaskStatus.WAITING
        await wait_status(rig.rt, task_id, TaskStatus.FINISHED, timeout=30)
        (rec,) = await records_of(rig.rt, task_id)
    assert rec.call_time >= send_at
