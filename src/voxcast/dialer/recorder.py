"""Writes finished calls: call record, callee state, balance debit, push and SMS (the task's
hangUpSms and the robot script's texts), in batches.

Calls end at a high rate, so results are group-committed: one transaction writes up to a few
hundred of them. A result waits for the database as long as this process lives: a failed batch
is retried with capped backoff (0.2 s doubling to 5 s) and never dropped. Up to MEMORY_LIMIT
results wait in memory; beyond that they are appended to a spill file under the data dir
(JSON lines, fsync'd per batch; see dialer/spill.py) and replayed when the database is back. A
file left by a process that ended before replaying it is replayed by the next process to start
on that data dir (it holds the file's lock only while alive).

Writing is idempotent: a result is written only while its callee is still DIALING, leased to
its owner, on the same attempt; the callee row and the call record commit in one transaction, so
a batch whose commit succeeded but whose acknowledgement was lost is skipped on the retry.

While results wait, their calls keep their leases: the dialer renews them (engine._renew) and
never reaps calls this process holds, so nothing is recorded as lost while its true outcome is
on its way. If the process dies first, the leases run out and a live worker records the calls as
lost (engine._reap), so nothing is lost and nobody is dialed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
import wave
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import phonenumbers
from phonenumbers import geocoder

from voxcast.dialer import store
from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.dialer.spill import SpillFile, decode, encode
from voxcast.domain.billing import BillPeriod, call_cost
from voxcast.domain.callresult import CallFacts, called_info_text
from voxcast.domain.enums import CalleeState, TaskKind
from voxcast.domain.ids import sms_msg_id
from voxcast.domain.sms import plan_sms, script_sms_route, script_sms_texts
from voxcast.runtime import Runtime
from voxcast.services import ccrecords, recordings, sipcalls
from voxcast.services import rates as rate_service
from voxcast.services import sms as sms_service
from voxcast.storage.db import Outage

log = logging.getLogger("voxcast.recorder")
BATCH = 256
#: results kept in memory while the database is away; more go to the spill file
MEMORY_LIMIT = 10_000
RETRY_FIRST_S = 0.2
RETRY_CAP_S = 5.0
#: after a stop, how long results still try to reach the database before being left in the
#: spill file for the next start
STOP_GRACE_S = 10.0


@dataclass
class Finished:
    ctx: TaskContext
    claimed: Claimed
    limits: AccountLimits
    facts: CallFacts

    @property
    def redial(self) -> bool:
        return self.ctx.redials_after(self.claimed.attempts, self.facts)


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


def _decoded(line: str) -> tuple[str, Finished] | None:
    try:
        return decode(line)
    except (ValueError, KeyError, TypeError):
        # only a disk fault gets here (lines are whole and written by this code)
        log.error("unreadable line in a spill file, skipped: %.200s", line)
        return None


def spill_dir(data_dir: Path) -> Path:
    return data_dir / "spill"


class Recorder:
    """Queues finished calls and writes them in batches (see the module docstring)."""

    def __init__(self, rt: Runtime, worker_id: str) -> None:
        self.rt = rt
        self.worker_id = worker_id
        self.written = 0
        self.memory_limit = MEMORY_LIMIT
        #: results waiting in memory, with the worker id their lease is held by
        self._memory: deque[tuple[str, Finished]] = deque()
        #: results beyond the memory bound, not yet appended to the spill file
        self._overflow: list[str] = []
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in worker_id)
        self._spill = SpillFile(spill_dir(rt.settings.data_dir) / f"results-{safe}.jsonl")
        self._lock: IO[bytes] | None = None
        #: callee id -> lease owner of every result not written yet (memory, overflow, file)
        self.pending: dict[int, str] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.outage = Outage(log, "call results wait (in memory, then in the spill file)")

    @property
    def spilled(self) -> int:
        """Results waiting in the spill file (or about to be written to it)."""
        return self._spill.waiting + len(self._overflow)

    def submit(self, item: Finished) -> None:
        self._add(self.worker_id, item)
        self._wake.set()

    def _add(self, owner: str, item: Finished) -> None:
        self.pending[item.claimed.id] = owner
        self._idle.clear()
        if len(self._memory) < self.memory_limit and not self.spilled:
            self._memory.append((owner, item))
            return
        self._overflow.append(encode(item, owner))
        if len(self._overflow) >= BATCH:
            self._flush_overflow()

    def _flush_overflow(self) -> None:
        if self._overflow:
            self._hold_spill_lock()
            lines, self._overflow = self._overflow, []
            self._spill.append(lines)

    def poke(self) -> None:
        """Retry now (the dialer saw the database come back)."""
        self._wake.set()

    async def flushed(self) -> None:
        """Returns once everything submitted so far is written (or, after a stop that outlasted
        the grace period, left in the spill file)."""
        await self._idle.wait()

    def _next_batch(self) -> tuple[list[tuple[str, Finished]], bool]:
        """Up to BATCH results, from memory first; and whether they came from the file."""
        batch: list[tuple[str, Finished]] = []
        while self._memory and len(batch) < BATCH:
            batch.append(self._memory.popleft())
        if batch:
            return batch, False
        self._flush_overflow()
        lines = self._spill.read(BATCH)
        return [item for line in lines if (item := _decoded(line))], bool(lines)

    async def run(self, stop: asyncio.Event) -> None:
        self._adopt_orphans()
        delay = RETRY_FIRST_S
        stopped_at: float | None = None
        while True:
            if stop.is_set() and stopped_at is None:
                stopped_at = time.monotonic()
            self._flush_overflow()
            batch, from_file = self._next_batch()
            if from_file and not batch:
                continue  # only unreadable lines
            if not batch:
                self._spill.reset_if_done()
                self._idle.set()
                if stop.is_set():
                    self._release_spill_lock()
                    return
                await self._sleep(0.1)
                continue
            if await self._write_once(batch):
                delay = RETRY_FIRST_S
                for _owner, f in batch:
                    self.pending.pop(f.claimed.id, None)
                continue
            # back at the front, in order
            if from_file:
                self._spill.unread()
            else:
                self._memory.extendleft(reversed(batch))
            if stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_S:
                self._spill_all()
                self._idle.set()
                self._release_spill_lock()
                log.warning(
                    "stopping with %d call results in %s; the next start on this data dir "
                    "writes them",
                    self._spill.waiting,
                    self._spill.path,
                )
                return
            await self._sleep(delay)
            delay = min(delay * 2, RETRY_CAP_S)

    async def _sleep(self, seconds: float) -> None:
        """Wait, waking early on new results or a poke; the overflow reaches the file meanwhile."""
        self._wake.clear()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(left, 0.1))
            self._flush_overflow()

    async def _write_once(self, batch: list[tuple[str, Finished]]) -> bool:
        owners: dict[str, list[Finished]] = defaultdict(list)
        for owner, f in batch:
            owners[owner].append(f)
        # read from disk before the transaction, so no lock waits on the files
        recorded = [f for _o, f in batch if f.facts.recording_full or f.facts.recording_customer]
        audio = await asyncio.to_thread(self._pack_recordings, recorded) if recorded else {}
        stored: list[str] = []
        try:
            async with self.rt.sessions.begin() as session:
                for owner, items in owners.items():
                    stored += await self.write(session, items, owner=owner, audio=audio)
        except Exception as exc:
            # a failure of a reachable database is retried too: dropping the batch would bill
            # nothing for calls that happened; the traceback says what to fix
            self.outage.failed(exc, f"writing {len(batch)} call results")
            return False
        self.outage.ok()
        if stored:  # the database holds them now, for every node: this disk's copy may go
            await asyncio.to_thread(self._unlink_recordings, stored)
        return True

    def _pack_recordings(self, batch: list[Finished]) -> dict[str, recordings.Packed]:
        """The recordings of these calls, packed for the database (those still on disk)."""
        packed: dict[str, recordings.Packed] = {}
        root = recordings.folder(self.rt.settings.data_dir)
        for f in batch:
            for name in (f.facts.recording_full, f.facts.recording_customer):
                if not name:
                    continue
                try:
                    packed[name] = recordings.pack(root / name)
                except FileNotFoundError:
                    continue  # stored by an earlier batch whose acknowledgement was lost
                except (OSError, EOFError, ValueError, wave.Error) as exc:
                    log.warning("recording %s cannot be stored: %s", name, exc)
        return packed

    def _unlink_recordings(self, names: list[str]) -> None:
        root = recordings.folder(self.rt.settings.data_dir)
        for name in names:
            (root / name).unlink(missing_ok=True)

    def _spill_all(self) -> None:
        while self._memory:
            owner, f = self._memory.popleft()
            self._overflow.append(encode(f, owner))
        self._flush_overflow()

    # -- the spill file's lock: held while this process lives ---------------------------------
    def _hold_spill_lock(self) -> None:
        if self._lock is not None:
            return
        self._spill.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self._spill.path.with_suffix(".lock").open("ab")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        self._lock = lock

    def _release_spill_lock(self) -> None:
        if self._lock is not None:
            if not self._spill.path.exists():
                self._spill.path.with_suffix(".lock").unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def _adopt_orphans(self) -> None:
        """Take over the spill files of processes that ended before replaying them."""
        folder = spill_dir(self.rt.settings.data_dir)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("results-*.jsonl")):
            if path == self._spill.path:
                continue
            lock = path.with_suffix(".lock").open("ab")
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()  # its process is alive and replays it itself
                continue
            try:
                lines = SpillFile.lines_in(path)
                for line in lines:
                    if decoded := _decoded(line):
                        self._add(*decoded)
                self._flush_overflow()  # safe in our own file before the orphan goes
                path.unlink(missing_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path.with_suffix(".lock"))
            finally:
                lock.close()
            if lines:
                log.warning("replaying %d call results left in %s", len(lines), path)
        if self.pending:
            self._wake.set()

    async def write(
        self,
        session: store.Session,
        batch: list[Finished],
        *,
        owner: str | None,
        audio: dict[str, recordings.Packed] | None = None,
    ) -> list[str]:
        """Write results whose callee is still leased to `owner` (None: reaper, any owner),
        with the recordings of theirs packed in `audio`; the names of those stored."""
        ids = [f.claimed.id for f in batch]
        # the same attempt: a result committed before (its acknowledgement lost) left the
        # callee DONE, or PENDING for a redial, or DIALING again on a later attempt
        leased = await store.leased_attempts(session, ids, owner)
        gone = [f for f in batch if leased.get(f.claimed.id) != f.claimed.attempts]
        if gone:
            log.warning("%d call results already written or reaped; not recorded twice", len(gone))
        batch = [f for f in batch if leased.get(f.claimed.id) == f.claimed.attempts]
        if not batch:
            return []
        await store.update_callees(session, [self._callee_values(f) for f in batch])
        recorded = [f for f in batch if not f.redial or f.ctx.records_each_attempt]
        if not recorded:
            return []
        records: list[dict[str, Any]] = []
        debits: dict[int, Decimal] = defaultdict(Decimal)
        sms_rows: list[dict[str, Any]] = []
        now = self.rt.clock.now()
        # read for this batch only: a long-lived copy would miss rates added since
        books: dict[int, rate_service.RateBook] = {}
        for f in recorded:
            rec = await self._record_values(session, f, books)
            records.append(rec)
            debits[f.ctx.account_id] += rec["cost"]
            sms_rows += self._sms_rows(f, rec, now)
        await store.add_call_records(session, records)
        cc_rows = [
            ccrecords.record_row(
                voice_id=rec["voice_id"],
                account_id=f.ctx.account_id,
                app_id=f.ctx.app_id,
                task_id=f.ctx.id,
                group_id=f.facts.agent_group or f.ctx.transfer_group,
                called=f.claimed.callee,
                called_info=rec["called_info"],
                caller=f.ctx.display_num,
                ccode=_calling_code(f.claimed.callee),
                facts=f.facts,
                cost=rec["cost"],
            )
            for f, rec in zip(recorded, records, strict=True)
            if f.ctx.transfer_group is not None or f.facts.agent_group is not None
        ]
        cc_rows += [
            sipcalls.cc_row(
                voice_id=rec["voice_id"],
                account_id=f.ctx.account_id,
                app_id=f.ctx.app_id,
                task_id=f.ctx.id,
                phone=f.ctx.settings.phone,
                called=f.claimed.callee,
                called_info=rec["called_info"],
                caller=f.ctx.display_num,
                ccode=_calling_code(f.claimed.callee),
                facts=f.facts,
                cost=rec["cost"],
            )
            for f, rec in zip(recorded, records, strict=True)
            if f.ctx.kind == TaskKind.SIP_CALL
        ]
        await store.add_cc_records(session, cc_rows, now, due=self.rt.wall.now())
        for account_id, amount in debits.items():
            if amount > 0:
                await store.debit(session, account_id, amount)
        wall = self.rt.wall.now()
        links = recordings.links(self.rt.settings, self.rt.secrets, wall)
        await store.queue_voice_reports(session, records, now, due=wall, links=links)
        await store.add_sms(session, sms_rows)
        kept = [
            audio[name]
            for f in recorded
            for name in (f.facts.recording_full, f.facts.recording_customer)
            if name and audio and name in audio
        ]
        await store.add_recordings(
            session,
            [
                {"name": p.name, "channels": p.channels, "audio": p.audio, "created_at": wall}
                for p in kept
            ],
        )
        self.written += len(records)
        return [p.name for p in kept]

    def _sms_rows(self, f: Finished, rec: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        """The call's texts, written with its record (so a retried batch queues none twice): the
        task's hangUpSms when a trigger holds, and the robot script's `sms` actions' texts, whose
        msgIds the record's conversation names."""
        base = {
            "account_id": f.ctx.account_id,
            "task_id": f.ctx.id,
            "voice_id": f.claimed.voice_id,
            "number": f.claimed.callee,
            # the delivery report goes to the task's app (its SMS push URL)
            "app_id": f.ctx.app_id,
            "status": sms_service.PENDING,
            "created_at": now,
        }
        rows: list[dict[str, Any]] = []
        # the hang-up SMS follows the number's last call
        sms = None if f.redial else plan_sms(f.ctx.settings.sms, f.facts, f.claimed.info)
        if sms is not None:
            rows.append(
                {
                    **base,
                    "sms_app_id": f.ctx.settings.sms.app_id,
                    "sender_id": f.ctx.settings.sms.sender_id,
                    "content": sms.content,
                    "trigger": sms.trigger,
                    "send_at": sms.send_at,
                    "msg_id": sms_msg_id(now),
                    "origin": sms_service.HANGUP,
                }
            )
        conversation = f.facts.conversation
        if not conversation or not conversation.get("sms"):
            return rows
        texts = script_sms_texts(conversation)
        if conversation.get("opted_out"):
            log.info(
                "call %s to %s: the script's SMS is not sent, the callee opted out",
                f.claimed.voice_id,
                f.claimed.callee,
            )
        route = script_sms_route(f.ctx.app_id, f.ctx.settings.sms)
        script_rows = [
            {
                **base,
                "app_id": route.app_id,
                "sms_app_id": route.sms_app_id,
                "sender_id": route.sender_id,
                "content": text,
                "trigger": sms_service.SCRIPT,
                "send_at": f.facts.hangup_time or f.facts.call_time,
                "msg_id": sms_msg_id(now),
                "origin": sms_service.SCRIPT,
            }
            for text in texts
        ]
        # a copy: the facts stay as the call left them for a retried batch
        rec["conversation"] = {**conversation, "sms_msg_ids": [r["msg_id"] for r in script_rows]}
        return rows + script_rows

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
            if f.ctx.records_each_attempt:
                values["voice_id"] = None  # recorded: the next call gets a voiceId of its own
        return values

    async def _rate_of(
        self, session: store.Session, f: Finished, books: dict[int, rate_service.RateBook]
    ) -> Decimal:
        """The rate frozen on the callee at submission; for rows made before rates were
        frozen, the account's current rate, read from the database now."""
        if f.claimed.rate is not None:
            return f.claimed.rate
        book = books.get(f.ctx.account_id)
        if book is None:
            book = books[f.ctx.account_id] = await store.rate_book(session, f.ctx.account_id)
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
        self, session: store.Session, f: Finished, books: dict[int, rate_service.RateBook]
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
            "sip_code": str(facts.reported_sip_code),
            "feedback_value": facts.feedback_value,
            "called_info": called_info_text(f.claimed.info),
            "voice_file_id": f.ctx.voice_file_id,
            "out_recall_count": f.ctx.out_recall_count,
            "amd_result": facts.amd_result,
            "amd_cause": facts.amd_cause,
            "conversation": facts.conversation,
            "recording_full": facts.recording_full,
            "recording_customer": facts.recording_customer,
            "attempt": f.claimed.attempts,
            # every row has every column: one executemany for the batch
            **sipcalls.record_names(
                f.ctx.settings.phone if f.ctx.kind == TaskKind.SIP_CALL else None
            ),
        }
