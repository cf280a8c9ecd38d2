"""Writes finished calls: call record, callee state, balance debit, push and SMS, in batches.

Calls end at a high rate, so results are group-committed: one transaction writes up to a few
hundred of them. A call's lease outlives the wait in the queue; if the process dies first, the
lease runs out and a live worker records the call as lost (engine._reap), so nothing is lost
and nobody is dialed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from phonenumbers import geocoder
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.dialer.claims import Claimed
from voxcast.dialer.context import AccountLimits, TaskContext
from voxcast.domain.billing import BillPeriod, call_cost
from voxcast.domain.callresult import CallFacts, called_info_text
from voxcast.domain.enums import CalleeState
from voxcast.domain.sms import plan_sms
from voxcast.runtime import Runtime
from voxcast.services import ccrecords
from voxcast.services import rates as rate_service
from voxcast.services.records import record_to_push_json
from voxcast.storage.models import Account, App, Callee, CallRecord, CcRecord, SmsMessage
from voxcast.webhooks import outbox

log = logging.getLogger("voxcast.recorder")
BATCH = 256


@dataclass
class Finished:
    ctx: TaskContext
    claimed: Claimed
    limits: AccountLimits
    facts: CallFacts

    @property
    def redial(self) -> bool:
        return (not self.facts.answered) and self.claimed.attempts <= self.ctx.redials


def _calling_code(number: str) -> str | None:
    try:
        return str(phonenumbers.parse("+" + number).country_code)
    except phonenumbers.NumberParseException:
        return None


def region_of(number: str) -> str:
    """The vendor's `code` field: "Country(Region)" from the number, "" when unknown."""
    try:
        parsed = phonenumbers.parse("+" + number)
    except phonenumbers.NumberParseException:
        return ""
    country = geocoder.country_name_for_number(parsed, "en")
    area = geocoder.description_for_number(parsed, "en")
    if area and area != country:
        return f"{country}({area})"
    return country


class Recorder:
    """Queues finished calls and writes them in batches (see the module docstring)."""

    def __init__(self, rt: Runtime, worker_id: str) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self._queue: asyncio.Queue[Finished] = asyncio.Queue()
        self.written = 0

    def submit(self, item: Finished) -> None:
        self._queue.put_nowait(item)

    async def flushed(self) -> None:
        """Returns once everything submitted so far is written (or given up on)."""
        await self._queue.join()

    async def run(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and self._queue.empty()):
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.1)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write_with_retry(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_with_retry(self, batch: list[Finished]) -> None:
        for attempt in range(3):
            try:
                async with self.rt.sessions.begin() as session:
                    await self.write(session, batch, owner=self.worker_id)
                return
            except Exception:
                log.exception("writing %d call results failed (try %d)", len(batch), attempt + 1)
                await asyncio.sleep(0.2 * (attempt + 1))
        log.error(
            "gave up writing %d call results; their leases will expire and a live worker "
            "records them as lost",
            len(batch),
        )

    async def write(
        self, session: AsyncSession, batch: list[Finished], *, owner: str | None
    ) -> None:
        """Write results whose callee is still leased to `owner` (None: reaper, any owner)."""
        ids = [f.claimed.id for f in batch]
        still = select(Callee.id).where(Callee.id.in_(ids), Callee.state == CalleeState.DIALING)
        if owner is not None:
            still = still.where(Callee.lease_owner == owner)
        mine = set((await session.scalars(still.with_for_update())).all())
        lost = [f for f in batch if f.claimed.id not in mine]
        if lost:
            log.warning(
                "%d calls finished after their lease was reaped; not recorded twice", len(lost)
            )
        batch = [f for f in batch if f.claimed.id in mine]
        if not batch:
            return
        await session.execute(
            update(Callee),
            [self._callee_values(f) for f in batch],
        )
        final = [f for f in batch if not f.redial]
        if not final:
            return
        records: list[dict[str, Any]] = []
        debits: dict[int, Decimal] = defaultdict(Decimal)
        sms_rows: list[dict[str, Any]] = []
        now = self.rt.clock.now()
        # read for this batch only: a long-lived copy would miss rates added since
        books: dict[int, rate_service.RateBook] = {}
        for f in final:
            rec = await self._record_values(session, f, books)
            records.append(rec)
            debits[f.ctx.account_id] += rec["cost"]
            sms = plan_sms(f.ctx.params, f.facts, f.claimed.info)
            if sms is not None:
                sms_rows.append(
                    {
                        "account_id": f.ctx.account_id,
                        "task_id": f.ctx.id,
                        "voice_id": f.claimed.voice_id,
                        "sms_app_id": f.ctx.params.get("smsAppId"),
                        "sender_id": f.ctx.params.get("senderId"),
                        "number": f.claimed.callee,
                        "content": sms.content,
                        "trigger": sms.trigger,
                        "send_at": sms.send_at,
                        "state": 0,
                        "created_at": now,
                    }
                )
        await session.execute(insert(CallRecord), records)
        cc_rows = [
            ccrecords.record_row(
                voice_id=rec["voice_id"],
                account_id=f.ctx.account_id,
                app_id=f.ctx.app_id,
                task_id=f.ctx.id,
                group_id=f.ctx.transfer_group,
                called=f.claimed.callee,
                called_info=rec["called_info"],
                caller=f.ctx.display_num,
                ccode=_calling_code(f.claimed.callee),
                facts=f.facts,
                cost=rec["cost"],
            )
            for f, rec in zip(final, records, strict=True)
            if f.ctx.transfer_group is not None
        ]
        if cc_rows:
            await session.execute(insert(CcRecord), cc_rows)
            await self._cc_pushes(session, cc_rows, now)
        for account_id, amount in debits.items():
            if amount > 0:
                await session.execute(
                    update(Account)
                    .where(Account.id == account_id)
                    .values(balance=Account.balance - amount)
                )
        await self._pushes(session, records, now)
        if sms_rows:
            await session.execute(insert(SmsMessage), sms_rows)
        self.written += len(records)

    def _callee_values(self, f: Finished) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": f.claimed.id,
            "lease_owner": None,
            "lease_until": None,
            "sip_code": int(f.facts.termination_code),
            "feedback": f.facts.feedback_value,
            "success": f.facts.answered,
            "voice_id": f.claimed.voice_id,
            "state": CalleeState.DONE,
            "next_attempt_at": None,
        }
        if f.redial:
            values["state"] = CalleeState.PENDING
            values["next_attempt_at"] = (
                f.facts.hangup_time or f.facts.call_time
            ) + f.ctx.redial_interval
        return values

    async def _rate_of(
        self, session: AsyncSession, f: Finished, books: dict[int, rate_service.RateBook]
    ) -> Decimal:
        """The rate frozen on the callee at submission; for rows made before rates were
        frozen, the account's current rate, read from the database now."""
        if f.claimed.rate is not None:
            return f.claimed.rate
        book = books.get(f.ctx.account_id)
        if book is None:
            book = books[f.ctx.account_id] = await rate_service.load_rate_book(
                session, f.ctx.account_id
            )
        rate = book.lookup(f.claimed.callee)
        if rate is None:
            # intake refuses unrated numbers, so only a rate deleted since gets here
            log.warning(
                "call %s to %s: no rate covers the number any more; charged 0",
                f.claimed.voice_id,
                f.claimed.callee,
            )
            return Decimal(0)
        return rate

    async def _record_values(
        self, session: AsyncSession, f: Finished, books: dict[int, rate_service.RateBook]
    ) -> dict[str, Any]:
        rate = await self._rate_of(session, f, books)
        period = BillPeriod.parse(f.limits.bill_period)
        charged = period.charged_seconds(f.facts.call_duration)
        cost = call_cost(rate, charged)
        facts = f.facts
        return {
            "voice_id": f.claimed.voice_id,
            "account_id": f.ctx.account_id,
            "app_id": f.ctx.app_id,
            "task_id": f.ctx.id,
            "callee_id": f.claimed.id,
            "type": f.ctx.record_type,
            "callee": f.claimed.callee,
            "display_num": f.ctx.display_num,
            "code": region_of(f.claimed.callee),
            "submit_time": f.ctx.created_at,
            "call_time": facts.call_time,
            "ringing_time": facts.ringing_time,
            "answer_time": facts.answer_time,
            "hangup_time": facts.hangup_time,
            "call_duration": facts.call_duration,
            "ring_duration": facts.ring_duration,
            "charged_duration": charged,
            "bill_period": str(period),
            "rate": rate,
            "base_cost": cost,
            "cost": cost,
            "termination_code": facts.termination_code,
            "termination_reason": facts.termination_reason,
            "sip_code": str(facts.sip_code or facts.termination_code),
            "feedback_value": facts.feedback_value,
            "called_info": called_info_text(f.claimed.info),
            "voice_file_id": f.ctx.voice_file_id,
            "out_recall_count": f.ctx.out_recall_count,
        }

    async def _cc_pushes(
        self, session: AsyncSession, rows: list[dict[str, Any]], now: datetime
    ) -> None:
        app_ids = {r["app_id"] for r in rows}
        urls = dict(
            (
                await session.execute(
                    select(App.app_id, App.cc_push_url).where(App.app_id.in_(app_ids))
                )
            ).all()
        )
        await outbox.enqueue_many(
            session,
            (
                outbox.PushItem(
                    r["account_id"],
                    r["app_id"],
                    outbox.CC_RECORD,
                    r["call_session_id"],
                    ccrecords.record_json(r),
                )
                for r in rows
                if urls.get(r["app_id"])
            ),
            now,
            due=self.rt.wall.now(),
        )

    async def _pushes(
        self, session: AsyncSession, records: list[dict[str, Any]], now: datetime
    ) -> None:
        app_ids = {r["app_id"] for r in records}
        urls = dict(
            (
                await session.execute(
                    select(App.app_id, App.push_url).where(App.app_id.in_(app_ids))
                )
            ).all()
        )
        await outbox.enqueue_many(
            session,
            (
                outbox.PushItem(
                    r["account_id"],
                    r["app_id"],
                    outbox.VOICE_REPORT,
                    r["voice_id"],
                    record_to_push_json(CallRecord(**r)),
                )
                for r in records
                if urls.get(r["app_id"])
            ),
            now,
            due=self.rt.wall.now(),
        )
