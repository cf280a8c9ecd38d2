"""The dialer loop: each tick advances task states, reaps dead workers' calls, claims due
callees within each account's limits and runs their calls; results go to the recorder.

Database outages: a tick that cannot reach the database claims nothing and logs one warning per
outage (and a line when it is back); calls in progress go on and their results wait in the
recorder. The reaper's rule: a call is recorded as lost only when its lease has run out, this
process does not hold it (dialing it or holding its unwritten result), and this process has
reached the database without a failure for at least one lease margin. A live worker renews the
leases of the calls it holds at least every quarter margin once the database answers, so
another worker's reaper, which waits out that margin after any outage it saw (or after its own
start), finds them renewed: a worker that is alive and reaches the database is never reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from voxcast import logs, metrics
from voxcast.audio import RenderPool
from voxcast.dialer import scheduler, screening, store
from voxcast.dialer.clicktocall import click_to_call
from voxcast.dialer.context import AccountLimits, Claimed, TaskContext
from voxcast.dialer.conversation import RobotCall, Robots, summary
from voxcast.dialer.desk import DbAgentDesk, room_left
from voxcast.dialer.limits import CallLimits
from voxcast.dialer.prompts import PromptError, PromptResolver
from voxcast.dialer.recorder import Finished, Recorder
from voxcast.domain.amd import AmdAction, AmdSettings
from voxcast.domain.callresult import CallFacts, called_info_text
from voxcast.domain.enums import TaskKind
from voxcast.domain.ids import voice_id as make_voice_id
from voxcast.domain.task_settings import DEFAULT_WAIT_S
from voxcast.domain.task_states import TaskEvent
from voxcast.ports import (
    AgentAnswered,
    AgentRinging,
    CallEvent,
    Carrier,
    DialRequest,
    HangupBy,
    OptOut,
    ReservedAgent,
    Transfer,
)
from voxcast.runtime import Runtime
from voxcast.services import ccrecords
from voxcast.storage.db import Outage

log = logging.getLogger("voxcast.dialer")

CarrierFor = Callable[[int], Carrier]
LOST_CALL_CODE = 500
#: seconds between ticks while the database is unreachable
OUTAGE_TICK_S = 0.5


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Stats:
    started: int = 0
    lost: int = 0
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)


class Dialer:
    """One worker's dialer. Any number of them may share one PostgreSQL database."""

    def __init__(
        self,
        rt: Runtime,
        carrier_for: CarrierFor,
        *,
        pool: RenderPool,
        worker_id: str | None = None,
        tick_seconds: float | None = None,
    ) -> None:
        self.rt = rt
        self.carrier_for = carrier_for
        self.worker_id = worker_id or new_worker_id()
        speed = max(rt.settings.sandbox_speed, 1.0)
        self.tick_seconds = tick_seconds or max(0.01, min(0.2, 0.25 / speed))
        self.prompts = PromptResolver(pool)
        self.robots = Robots(rt, self.prompts)
        self._preparing: set[int] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self.stats = Stats()
        self.desks = {
            virtual: DbAgentDesk(rt, virtual=virtual, owner=self.worker_id)
            for virtual in (True, False)
        }
        self.recorder = Recorder(rt, self.worker_id)
        #: callees of the calls this process is running
        self._calling: set[int] = set()
        self.outage = Outage(log, "not claiming calls until it is back")
        #: monotonic time since which every tick reached the database (start counts)
        self._reachable_since: float | None = time.monotonic()
        #: False once the node drains: calls in progress go on, no new ones are claimed
        self.claiming = True
        self._renewed_at = 0.0
        self._seats_renewed_at = 0.0
        #: clock time before which no lease or seat hold can have run out (None: not known)
        self._reap_after: datetime | None = None

    # -- loop -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set, then let the calls in progress finish and be written."""
        writer_stop = asyncio.Event()
        writer = asyncio.create_task(self.recorder.run(writer_stop), name="recorder")
        try:
            while not stop.is_set():
                await self._tick_once()
                pause = self.tick_seconds
                if self.outage.since is not None:
                    pause = max(pause, OUTAGE_TICK_S)  # one connection attempt, not a spin
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
            await self.drain(flush=False)
        finally:
            for job in list(self._jobs):
                job.cancel()
            writer_stop.set()
            await writer
            await self.robots.close()

    async def _tick_once(self) -> None:
        try:
            await self.tick()
        except Exception as exc:
            if self.outage.failed(exc, "dialer tick"):
                self._reachable_since = None
            return
        if self.outage.since is not None or self._reachable_since is None:
            self.recorder.poke()  # results waiting for the database need not wait out a backoff
        self.outage.ok()
        if self._reachable_since is None:
            self._reachable_since = time.monotonic()

    async def drain(self, grace_seconds: float = 10.0, *, flush: bool = True) -> None:
        """Wait for calls in progress; past the grace period they are cut (their leases run
        out and a live worker records them as lost). With `flush`, also wait until their
        results are written."""
        if self.stats.in_flight:
            _done, pending = await asyncio.wait(set(self.stats.in_flight), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("stopped with %d calls in progress", len(pending))
        if flush:
            await self.recorder.flushed()

    async def tick(self) -> int:
        """One pass; returns how many calls it started."""
        metrics.ticked()
        now = self.rt.clock.now()
        await self._renew(now)
        await self._renew_seats(now)
        await self._reap(now)
        # one transaction for the tick's own work: the tasks' life cycle, the submitted tasks
        # to prepare and the tasks now calling (a round trip each for BEGIN and COMMIT, so
        # every tick, idle or not, pays them once, not once per step)
        calling: list[tuple[AccountLimits, list[TaskContext]]] = []
        mine: list[int] = []
        async with self.rt.sessions.begin() as session:
            await scheduler.advance(session, now)
            if self.claiming:
                mine = await self._take_submitted(session, now)
                calling = await store.calling_tasks(session)
        if not self.claiming:
            return 0
        for task_id in mine:
            self._preparing.add(task_id)
            self._jobs.add(asyncio.create_task(self._prepare(task_id)))
        started = 0
        for limits, contexts in calling:
            started += await self._dial_account(limits, contexts)
        return started

    async def _dial_account(self, limits: AccountLimits, contexts: list[TaskContext]) -> int:
        now = self.rt.clock.now()
        open_tasks = [
            c
            for c in contexts
            if scheduler.in_send_window(c.settings.send_window, limits.timezone, now)
        ]
        if not open_tasks:
            return 0
        claimed: list[tuple[TaskContext, Claimed]] = []
        # read before the claim transaction (on SQLite a second one would wait on it)
        caps = {ctx.id: await self._proportional_allowance(ctx) for ctx in open_tasks}
        claim_started = time.perf_counter()
        async with self.rt.sessions.begin() as session:
            await store.lock_account(session, limits.id)
            # read the clock after the lock: calls that ended before this instant are counted
            # out, so record times (call start to hang-up) never overlap past the limits
            now = self.rt.clock.now()
            # the balance read before this transaction may predate a call just recorded: it is
            # read again with the channels (a call's record, its channel and its debit commit
            # together, so a channel seen free is a debit seen), and nothing starts at zero
            room = await store.capacity(
                session,
                limits.id,
                [c.id for c in contexts],
                now,
                limits.max_cps,
                limits.max_channels,
            )
            # the calls already waiting for an agent, read under the account's lock: every
            # worker's claims of these tasks are serialized by it, so together they never
            # place more than the allowance (a per-process count would let each fill it)
            for task_id, cap in caps.items():
                if cap is not None and room > 0:
                    caps[task_id] = room_left(cap, await store.waiting_callees(session, task_id))
            # fair between the account's tasks: each open task gets an equal share in turn
            pending = [ctx for ctx in open_tasks if caps[ctx.id] != 0]
            while room > 0 and pending:
                share = max(1, room // len(pending))
                for ctx in list(pending):
                    want = min(share, room)
                    cap = caps[ctx.id]
                    if cap is not None:
                        want = min(want, cap)
                        caps[ctx.id] = cap - want
                        if want <= 0:
                            pending.remove(ctx)
                            continue
                    got = await store.claim(
                        session, ctx.id, want, now, self.worker_id, now + self._lease_for(ctx)
                    )
                    if len(got) < want:
                        pending.remove(ctx)
                    claimed.extend((ctx, c) for c in got)
                    room -= len(got)
                    if room <= 0:
                        break
            claimed = await self._hold_outside_local_windows(session, claimed, now)
            claimed, listed = await screening.screen(session, claimed, now)
            fresh = [c for _ctx, c in claimed if c.voice_id is None]
            for c in fresh:
                c.voice_id = make_voice_id(now, c.id)
            await store.set_voice_ids(session, fresh)
        metrics.claimed(time.perf_counter() - claim_started)
        for ctx, c in listed:
            self.recorder.submit(screening.not_dialed(ctx, c, limits, now))
            if ctx.kind == TaskKind.SIP_CALL:  # its phone, reserved at intake, never rang
                await self._free_phone(ctx, None, None, talked=False)
        for ctx, c in claimed:
            self._start(ctx, c, limits, now)
        return len(claimed)

    async def _hold_outside_local_windows(
        self,
        session: store.Session,
        claimed: list[tuple[TaskContext, Claimed]],
        now: datetime,
    ) -> list[tuple[TaskContext, Claimed]]:
        """With per-callee windows, give back callees whose local window is closed, due again
        when it opens (not counted as an attempt)."""
        keep: list[tuple[TaskContext, Claimed]] = []
        held: list[tuple[int, datetime]] = []
        for ctx, c in claimed:
            window = ctx.settings.send_window
            if window.per_callee:
                opens = scheduler.callee_in_window(window, c.callee, now)
                if opens is not None:
                    held.append((c.id, opens))
                    continue
            keep.append((ctx, c))
        if held:
            await store.release(session, held)
        return keep

    async def _take_submitted(self, session: store.Session, now: datetime) -> list[int]:
        """The tasks just submitted (status 6) this worker takes to prepare their prompts (the
        caller starts them in the background once `session` commits); a task another worker
        began long ago and never finished is taken over."""
        stale = now - self._stall_margin()
        mine = []
        for task_id in await store.submitted_tasks(session, stale):
            if task_id in self._preparing:
                continue
            if await store.take_submitted(session, task_id, now, stale):
                mine.append(task_id)
        return mine

    async def _prepare(self, task_id: int) -> None:
        try:
            await self._prepare_one(task_id)
        finally:
            self._preparing.discard(task_id)
            current = asyncio.current_task()
            if current is not None:
                self._jobs.discard(current)

    async def _prepare_one(self, task_id: int) -> None:
        try:
            async with self.rt.readonly() as session:
                task = await store.task(session, task_id)
                if task is None:
                    return
                preparation = await self.prompts.read(session, task)
            await self.prompts.prepare(preparation)
            event, reason = TaskEvent.PREPARED, ""
        except PromptError as err:
            event, reason = TaskEvent.PREPARE_FAILED, str(err)
            log.warning("task %s cannot be dialed: %s", task_id, reason)
        except Exception as exc:
            # retried on a later tick; an outage is logged once, not per task and tick
            self.outage.failed(exc, f"preparing task {task_id}")
            return
        now = self.rt.clock.now()
        async with self.rt.sessions.begin() as session:
            # a task paused or cancelled meanwhile stays as it is
            await store.move_task(session, task_id, event, now, reason=reason)

    def _stall_margin(self) -> timedelta:
        speed = max(self.rt.settings.sandbox_speed, 1.0)
        return timedelta(seconds=self.rt.settings.lease_margin_seconds * speed)

    def _lease_for(self, ctx: TaskContext) -> timedelta:
        """Longest possible call plus a margin for stalls (in wall seconds, scaled)."""
        return ctx.longest_call + self._stall_margin()

    def _start(self, ctx: TaskContext, c: Claimed, limits: AccountLimits, now: datetime) -> None:
        task = asyncio.create_task(self._run_call(ctx, c, limits, now))
        metrics.call_started(task)
        self.stats.started += 1
        self.stats.in_flight.add(task)
        task.add_done_callback(self.stats.in_flight.discard)

    # -- one call --------------------------------------------------------------------------
    async def _run_call(
        self, ctx: TaskContext, c: Claimed, limits: AccountLimits, now: datetime
    ) -> None:
        logs.bind_call(c.voice_id)  # this task's log lines (and its children's) name the call
        facts = CallFacts(call_time=now)
        self._calling.add(c.id)
        phone: ReservedAgent | None = None
        desk: DbAgentDesk | None = None
        robot: RobotCall | None = None
        try:
            if not self.prompts.knows(ctx.id):
                async with self.rt.readonly() as session:
                    await self.prompts.load(session, ctx.id)
            prompt = await self.prompts.for_call(ctx.id, c.info)
            carrier = self.carrier_for(ctx.account_id)

            async def transfer_to(group_id: int) -> Transfer | None:
                return await self._script_transfer(ctx, carrier, group_id)

            robot = await self.robots.for_call(ctx, c, transfer_to)
            # a robot's call: the script decides what is said (and its opt-out is spoken)
            confirmation = None if robot else await self.prompts.opt_out_for_call(ctx.id)
            opt_out_key = ctx.settings.opt_out_key
            transfer = await self._transfer_for(ctx, carrier, c.info)
            request = DialRequest(
                callee=c.callee,
                caller_id=ctx.display_num,
                prompt=prompt,
                loop_count=ctx.loop_count,
                max_ringing_s=ctx.max_ringing_time,
                max_talk_s=ctx.max_calls,
                delay_play_s=ctx.delay_play,
                delay_hangup_s=ctx.delay_hangup,
                transfer=transfer,
                amd=AmdSettings() if ctx.settings.amd else None,
                voicemail_drop=ctx.settings.amd_action is AmdAction.VOICEMAIL_DROP,
                opt_out=(
                    OptOut(opt_out_key, confirmation)
                    if opt_out_key is not None and confirmation is not None
                    else None
                ),
                conversation=robot.conversation() if robot else None,
                record=ctx.settings.record
                or (ctx.kind == TaskKind.AIVOICE and self.rt.settings.aivoice_recording),
            )
            events: AsyncIterator[CallEvent]
            limits_of_call: CallLimits | None = None
            if ctx.kind == TaskKind.SIP_CALL:
                # click-to-call: the phone reserved at intake rings first, then the callee
                desk = self._desk(carrier)
                phone = await desk.reserved_agent(_agent_of(ctx))
                if phone is None:
                    raise RuntimeError("the phone's agent no longer exists")
                events = click_to_call(carrier, phone, request, self.rt.clock)
            else:
                call = await carrier.dial(request)
                limits_of_call = CallLimits(self.rt.clock, call, request, self.rt.clock.now())
                if robot is not None:
                    events = robot.run(call)
                else:
                    events = screening.watch_opt_out(self.rt, ctx, c, call, request)
            try:
                async for event in events:
                    if limits_of_call is not None:
                        limits_of_call.seen(event)
                    facts.apply(event)
                    if isinstance(event, AgentAnswered):
                        await self._agent_answered(ctx, c, event)
                    elif isinstance(event, AgentRinging):
                        await self._ringing_push(ctx, c, facts, event)
            finally:
                if limits_of_call is not None:
                    await limits_of_call.aclose()
            if limits_of_call is not None:
                limits_of_call.settle(facts)
            if robot is not None:
                facts.conversation = summary(robot.dialogue.record, ctx.script_id)
                if facts.transfer_time is not None:  # its call-center record names the group
                    facts.agent_group = robot.dialogue.record.agent_group_id
        except Exception as exc:
            log.exception("call %s to %s failed in the carrier", c.voice_id, c.callee)
            facts.hangup_time = self.rt.clock.now()
            facts.sip_code = LOST_CALL_CODE
            facts.hangup_by = HangupBy.NETWORK
            facts.reason = f"carrier error: {exc}"[:120]
        finally:
            if ctx.kind == TaskKind.SIP_CALL:
                await self._free_phone(ctx, desk, phone, talked=facts.answered)
            self._calling.discard(c.id)
        metrics.call_ended(facts.sip_code, facts.answered)
        log.debug("call to %s ended: SIP %s, answered %s", c.callee, facts.sip_code, facts.answered)
        # no await in between: the reaper never sees the call neither calling nor pending
        self.recorder.submit(Finished(ctx, c, limits, facts))

    async def _free_phone(
        self,
        ctx: TaskContext,
        desk: DbAgentDesk | None,
        phone: ReservedAgent | None,
        *,
        talked: bool,
    ) -> None:
        """A click-to-call's phone is free again (after its group's wrap-up when it talked)."""
        try:
            if desk is not None and phone is not None:
                await desk.release(phone, talked=talked)
            else:
                await self.desks[True].free(_agent_of(ctx))
        except Exception as exc:
            self.outage.failed(exc, f"freeing the phone {ctx.settings.phone.account}")

    # -- transfer to agents -------------------------------------------------------------------
    def _desk(self, carrier: Carrier) -> DbAgentDesk:
        return self.desks[bool(getattr(carrier, "virtual_agents", False))]

    async def _transfer_for(
        self, ctx: TaskContext, carrier: Carrier, callee_info: dict[str, Any] | None = None
    ) -> Transfer | None:
        group_id = ctx.transfer_group
        if group_id is None:
            return None
        desk = self._desk(carrier)
        info = await desk.group(group_id)
        settings = ctx.settings.transfer
        return Transfer(
            desk=desk,
            group_id=group_id,
            mode=settings.mode,
            key=settings.key,
            delay_s=settings.delay_s,
            wait_s=info.wait_s if info else DEFAULT_WAIT_S,
            callee_info={str(k): str(v) for k, v in (callee_info or {}).items()} or None,
        )

    async def _script_transfer(
        self, ctx: TaskContext, carrier: Carrier, group_id: int
    ) -> Transfer | None:
        """A robot script's `transfer`: to a group of the task's own app, from the desk a
        group call's transfer uses, the callee waiting the group's timeoutWaitSec. None for a
        group that is not the app's (a script names any id; another tenant's agents are never
        rung) or when the database cannot say."""
        try:
            async with self.rt.readonly() as session:
                group = await store.agent_group(session, group_id)
            if group is None or (group.account_id, group.app_id) != (ctx.account_id, ctx.app_id):
                log.warning(
                    "task %s: script transfer to agent group %s of no app of its", ctx.id, group_id
                )
                return None
            desk = self._desk(carrier)
            info = await desk.group(group_id)
        except Exception as exc:
            self.outage.failed(exc, f"finding agent group {group_id} for task {ctx.id}")
            return None
        return Transfer(
            desk=desk, group_id=group_id, wait_s=info.wait_s if info else DEFAULT_WAIT_S
        )

    async def _proportional_allowance(self, ctx: TaskContext) -> int | None:
        """How many calls of a proportional task (outboundControl=1) may wait for an agent at
        once: calloutRate (lowered while it abandons too many) times the free agents; the
        claim takes off those already waiting. None: no such limit."""
        group_id = ctx.transfer_group
        if group_id is None or not ctx.settings.transfer.proportional:
            return None
        desk = self._desk(self.carrier_for(ctx.account_id))
        return await desk.allowance(ctx.id, group_id, ctx.settings.transfer.ratio)

    async def _agent_answered(self, ctx: TaskContext, c: Claimed, event: AgentAnswered) -> None:
        """A proportional task's call is with an agent: every worker stops counting it as
        waiting. If the database cannot take it, the call stays counted (fewer calls, never
        more)."""
        if not ctx.settings.transfer.proportional:
            return
        try:
            async with self.rt.sessions.begin() as session:
                await store.agent_answered(session, c.id, event.at)
        except Exception as exc:
            self.outage.failed(exc, f"noting the agent of {c.voice_id}")

    async def _ringing_push(
        self, ctx: TaskContext, c: Claimed, facts: CallFacts, event: AgentRinging
    ) -> None:
        """The agent ringing push (§4.2), queued at once in its own transaction."""
        if c.voice_id is None:
            return
        try:
            async with self.rt.sessions.begin() as session:
                api_call = ctx.kind == TaskKind.SIP_CALL
                await store.queue_ringing(
                    session,
                    account_id=ctx.account_id,
                    app_id=ctx.app_id,
                    call_id=c.voice_id,
                    called=c.callee,
                    called_info=called_info_text(c.info),
                    # a click-to-call is no task the caller knows of: its id is the voiceId
                    task_id=None if api_call else ctx.id,
                    agent=event.agent,
                    no_answer=facts.no_answer_agents,
                    at=event.at,
                    ring_type=ccrecords.RING_API_CALL if api_call else ccrecords.RING_GROUP_CALL,
                    now=self.rt.clock.now(),
                    due=self.rt.wall.now(),
                )
        except Exception as exc:
            self.outage.failed(exc, f"queueing the ringing push of {c.voice_id}")

    # -- crash recovery ------------------------------------------------------------------------
    async def _renew(self, now: datetime) -> None:
        """Extend the leases of the calls this process holds, running or with their results
        waiting in the recorder (see the module docstring), every quarter margin, and at once
        after an outage; only leases that would run out within a margin are touched."""
        if not self.recorder.pending and not self._calling:
            return
        margin = self.rt.settings.lease_margin_seconds
        fresh = self._reachable_since is not None and self._reachable_since > self._renewed_at
        if not fresh and time.monotonic() - self._renewed_at < margin / 4:
            return
        pending = dict.fromkeys(self._calling, self.worker_id)
        pending.update(self.recorder.pending)
        until = now + self._stall_margin()
        by_owner: dict[str, list[int]] = {}
        for cid, owner in pending.items():
            by_owner.setdefault(owner, []).append(cid)
        async with self.rt.sessions.begin() as session:
            for owner, ids in by_owner.items():
                await store.renew_leases(session, owner, ids, until)
        self._renewed_at = time.monotonic()

    async def _renew_seats(self, now: datetime) -> None:
        """Extend this worker's holds on the seats it has busy or in wrap-up (transfers,
        inbound calls, click-to-call wrap-ups), as `_renew` does for calls."""
        margin = self.rt.settings.lease_margin_seconds
        fresh = self._reachable_since is not None and self._reachable_since > self._seats_renewed_at
        if not fresh and time.monotonic() - self._seats_renewed_at < margin / 4:
            return
        holder = self.desks[True].holder(now)
        assert holder is not None  # the dialer's desks hold seats in its name
        async with self.rt.sessions.begin() as session:
            await store.renew_seats(session, holder)
        self._seats_renewed_at = time.monotonic()

    async def _reap(self, now: datetime) -> None:
        """Record calls whose worker died as lost; never dial them again (no double calls).
        Seats such a worker held busy or in wrap-up are given back."""
        since = self._reachable_since
        if since is None or time.monotonic() - since < self.rt.settings.lease_margin_seconds:
            return  # a live worker may not have renewed its leases since the outage yet
        if self._reap_after is not None and now < self._reap_after:
            return  # no lease or hold ends before then: nothing to reap
        lost: list[Finished] = []
        # the dead workers' seats and calls in one transaction (both are skipped when locked)
        async with self.rt.sessions.begin() as session:
            seats = await store.free_orphaned_seats(session, now, self.worker_id)
            ids = await store.expired_leases(session, now)
            ids = [i for i in ids if i not in self._calling and i not in self.recorder.pending]
            if ids:
                lost = await self._lost_calls(session, ids, now)
            # a lease or hold taken from now on lasts at least a stall margin (claims, renewals
            # and seat holds all add it to their worker's clock): half of one allows for clocks
            # apart; the ones held now end at the horizon (at once, if one was skipped)
            horizon = await store.lease_horizon(session, self.worker_id)
        soonest = now + self._stall_margin() / 2
        self._reap_after = soonest if horizon is None else min(horizon, soonest)
        if seats:
            log.warning("gave back %d seats held by dead workers: %s", len(seats), seats)
        for f in lost:
            if f.ctx.kind == TaskKind.SIP_CALL:  # its phone was busy with the lost call
                await self.desks[True].free(_agent_of(f.ctx))
        if lost:
            log.warning("recorded %d calls of dead workers as lost", len(lost))

    async def _lost_calls(
        self, session: store.Session, ids: list[int], now: datetime
    ) -> list[Finished]:
        """Record the calls `ids` (leases run out, held by no one) as lost, in `session`."""
        lost: list[Finished] = []
        for call in await store.leased_calls(session, ids):
            ctx = call.ctx
            ctx.settings = ctx.settings.without_redials()  # a lost call is final
            c = call.claimed
            c.voice_id = c.voice_id or make_voice_id(now, c.id)
            facts = CallFacts(
                call_time=call.dialed_at or now,
                hangup_time=now,
                sip_code=LOST_CALL_CODE,
                hangup_by=HangupBy.NETWORK,
                reason="worker lost during the call",
            )
            lost.append(Finished(ctx, c, call.limits, facts))
        await self.recorder.write(session, lost, owner=None)
        self.stats.lost += len(lost)
        metrics.calls_lost(len(lost))
        return lost


def _agent_of(ctx: TaskContext) -> int:
    """The agent of a click-to-call's phone (stored at intake with the task)."""
    agent = ctx.settings.phone.seat_id
    if agent is None:
        raise RuntimeError(f"task {ctx.id}: a click-to-call without its phone's agent")
    return agent
