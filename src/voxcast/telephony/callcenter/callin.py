"""Inbound calls to agent groups (issue 11): an INVITE to one of our numbers reaching the
registrar's socket is answered, hears the hold tone while `transfer.Search` finds a free agent
of the number's group, and is bridged to the agent's softphone (`AgentLeg`) until either side
hangs up. Every call to a known number leaves a call-center record (callType 2) and its push;
each agent rung gets the agent ringing push (type 2), all under one callId.

The SIP side is `sip.inbound.InboundCall` (sans-IO); this module drives it on the registrar's
endpoint: the endpoint routes the call's later messages (ACK, CANCEL, BYE) by Call-ID, and what
we decide (ring, answer, refuse, hang up) is sent here with `endpoint.send`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from voxcast.audio.playback import RINGBACK, PromptAudio
from voxcast.ports import AgentRinging, HangupBy, ReservedAgent, Transfer
from voxcast.runtime import Runtime
from voxcast.services import ccrecords, numbers
from voxcast.services.browser_agents import is_browser
from voxcast.storage.models import Agent, CcRecord
from voxcast.telephony.callcenter.transfer import Search
from voxcast.telephony.callcenter.webrtc import BrowserLeg
from voxcast.telephony.rtp.media import MediaEngine, MediaStream
from voxcast.telephony.sip.aio.agentleg import AgentLeg
from voxcast.telephony.sip.aio.transport import Address, SipEndpoint
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.inbound import Answered, Ended, InboundCall, MediaChanged
from voxcast.telephony.sip.core.message import (
    Request,
    SipError,
    new_tag,
    parse_name_addr,
    response_to,
)
from voxcast.telephony.sip.core.transaction import Send
from voxcast.webhooks import pushes

log = logging.getLogger("voxcast.callin")

#: callType of an incoming call (api-catalog §5.3)
INCOMING = 2
#: hangupReason (§6.2): no agent answered within the wait / answered, then hung up
NOT_ANSWERED_BY_AGENT, ANSWERED_THEN_HUNG_UP = 8, 9
BY_CUSTOMER, BY_AGENT, BY_SYSTEM = 0, 1, 3
HOLD_LOOPS = 720  # the hold tone repeats for as long as anyone waits (an hour)
#: how long a bridged inbound conversation may last
MAX_TALK_S = 3600.0


@dataclass
class _Facts:
    """What happened to one inbound call, for its record."""

    started: datetime
    answered: datetime | None = None
    agent: ReservedAgent | None = None
    agent_answered: datetime | None = None
    ended: datetime | None = None
    code: int = 0
    by: HangupBy = HangupBy.NETWORK
    no_answer: list[str] = field(default_factory=list)


class InboundCalls:
    """Takes INVITEs offered by the registrar's endpoint (`offer`), one task per call."""

    def __init__(
        self,
        rt: Runtime,
        endpoint: SipEndpoint,
        media: MediaEngine,
        prompts: PromptAudio,
        desk: Any,
        *,
        local_host: str,
    ) -> None:
        self.rt = rt
        self.endpoint = endpoint
        self.media = media
        self.prompts = prompts
        self.desk = desk  # a DbAgentDesk: reserve/release, and `group()` for the timings
        self.local_host = local_host
        self._tasks: set[asyncio.Task[None]] = set()
        #: the last calls' media and fates, for tests
        self.finished: list[InboundSession] = []

    def offer(self, request: Request, peer: Address) -> bool:
        """An INVITE of no known call: ours from now on (True), whatever number it is for
        (an unknown one gets 404 after the look-up)."""
        if request.method != "INVITE":
            return False
        try:
            to_tag = parse_name_addr(request.headers.get("To") or "").tag
        except SipError:
            to_tag = None
        if to_tag:
            # a re-INVITE of a dialog we do not have (§12.2.2)
            self.endpoint.send(response_to(request, 481, to_tag=new_tag()), peer)
            return True
        host, port = self.endpoint.address
        call = InboundCall(
            invite=request, local=Local(self.local_host or host, port), local_tag=new_tag()
        )
        session = InboundSession(self, call, peer)
        # routed by Call-ID from now on: retransmissions, CANCEL, ACK, BYE reach the call
        self.endpoint.place(call, peer, session.on_output, follow_dialog=False)
        task = asyncio.create_task(session.run(), name=f"inbound-{call.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class InboundSession:
    """One inbound call from INVITE to record."""

    def __init__(self, owner: InboundCalls, call: InboundCall, peer: Address) -> None:
        self.owner = owner
        self.call = call
        self.peer = peer
        self.clock = owner.rt.clock
        self.facts = _Facts(started=self.clock.now())
        self.gone = asyncio.Event()  # the caller's side is over (its BYE, CANCEL, or ours)
        self.media: MediaStream | None = None
        self.agent: AgentLeg | BrowserLeg | None = None
        self.codec: int | None = None
        self.to_agent = 0  # packets relayed caller → agent
        self.to_caller = 0  # ...and agent → caller
        self.sent_to_caller = 0  # packets we played to the caller (the hold tone)
        self.received_from_caller = 0
        self.route: numbers.Route | None = None
        #: the record's callSessionId, and the callId of every ringing push of this call
        self.session_id = secrets.token_hex(16)

    # -- the SIP side ---------------------------------------------------------------------
    def on_output(self, out: object) -> None:
        """The call's events, from the endpoint (its messages and timers) or from `_apply`."""
        if isinstance(out, Answered):
            self.facts.answered = self.clock.now()
            self._connect(out.media.address, out.media.port, out.media.codec)
        elif isinstance(out, MediaChanged) and self.media is not None:
            if out.media.on_hold:
                self.media.hold()
            else:
                self.media.resume()
        elif isinstance(out, Ended):
            if self.facts.ended is None:
                self.facts.ended = self.clock.now()
                self.facts.code, self.facts.by = out.code, out.by
            self.gone.set()

    def _apply(self, outputs: Sequence[object]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                self.owner.endpoint.send(out.message, self.peer)
            else:
                self.on_output(out)
        # the call was driven here, not through the endpoint: its timers may have moved
        self.owner.endpoint.touch(self.call.call_id)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _connect(self, address: str, port: int, codec: int) -> None:
        if self.media is None:
            return
        self.codec = codec
        self.media.start((address, port), codec, None)

    # -- the call -------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            self._apply(self.call.hangup(self._now(), "shutting down"))
            raise
        except Exception:
            log.exception("inbound call %s failed", self.call.call_id)
            self._apply(self.call.hangup(self._now(), "internal error"))
        finally:
            if self.agent is not None:
                self.agent.hangup()
                self.to_agent = self.agent.media.relayed
                self.agent.close()
            if self.media is not None:
                self.to_caller = self.media.relayed
                self.sent_to_caller = self.media.sent
                self.received_from_caller = self.media.received
                self.media.close()
            self.owner.finished.append(self)
            del self.owner.finished[:-100]

    async def _run(self) -> None:
        call = self.call
        if self.gone.is_set():  # 488: an offer we cannot take
            return
        self._apply(call.ring(self._now()))
        rt = self.owner.rt
        async with rt.sessions() as session:
            route = await numbers.route_of(session, call.number or "")
            agents = 0
            if route is not None:
                agents = int(
                    await session.scalar(
                        select(func.count()).where(
                            Agent.group_id == route.group_id, Agent.enable.is_(True)
                        )
                    )
                    or 0
                )
        if route is None:
            self._apply(call.reject(self._now(), 404, "not a number of ours"))
            return
        self.route = route
        if agents == 0:
            self._apply(call.reject(self._now(), 480, "the group has no agent"))
            await self._write_record()
            return
        if self.gone.is_set():  # cancelled while we looked
            await self._write_record()
            return
        self.media = await self.owner.media.open_stream()
        self._apply(call.answer(self._now(), call.local.host, self.media.port, _session_id()))
        await self._hold_then_bridge(route)
        await self._write_record()

    async def _hold_then_bridge(self, route: numbers.Route) -> None:
        media, codec = self.media, self.codec
        if media is None or codec is None:
            return
        tone = await self.owner.prompts.g711(RINGBACK, codec)
        if not self.gone.is_set():
            media.play(tone, HOLD_LOOPS)
        info = await self.owner.desk.group(route.group_id)
        transfer = Transfer(
            desk=self.owner.desk,
            group_id=route.group_id,
            wait_s=info.wait_s if info is not None else 30.0,
            max_talk_s=MAX_TALK_S,
        )
        search = Search(transfer, self.clock, self._ring_agent, self.gone)
        async for event in search.run():
            if isinstance(event, AgentRinging):
                await self._ringing_push(route, event, [agent.name for agent in search.tried])
        self.facts.no_answer = [agent.name for agent in search.tried]
        agent = self.agent
        if search.answered is None or agent is None:
            if not self.gone.is_set():
                self._apply(self.call.hangup(self._now(), "no agent answered"))
            return
        self.facts.agent = search.answered
        self.facts.agent_answered = search.answered_at
        try:
            waits = [
                asyncio.ensure_future(self.gone.wait()),
                asyncio.ensure_future(agent.ended.wait()),
                asyncio.ensure_future(self.clock.sleep(transfer.max_talk_s)),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if not self.gone.is_set():
                # the agent hung up (or the talk limit): BYE the caller
                self._apply(self.call.hangup(self._now(), "agent hung up"))
                if agent.ended.is_set():
                    self.facts.by = HangupBy.AGENT
            agent.hangup()
        finally:
            await transfer.desk.release(search.answered, talked=True)

    async def _ring_agent(self, agent: ReservedAgent) -> bool:
        if self.media is None or self.codec is None:
            return False
        endpoint = self.owner.endpoint
        leg: AgentLeg | BrowserLeg
        if is_browser(agent.target):
            leg = BrowserLeg(
                sessions=self.owner.rt.sessions,
                clock=self.clock,
                media=await self.owner.media.open_stream(),
                callee_media=self.media,
                agent=agent,
                codec=self.codec,
                callee=(self.call.caller or "")[:32],
                callee_info=None,
                local_host=self.owner.media.host,
            )
        else:
            leg = AgentLeg(
                endpoint=endpoint,
                media=await self.owner.media.open_stream(),
                callee_media=self.media,
                agent=agent,
                codecs=(self.codec,),
                caller=(self.call.caller or "voxcast")[:32],
                local_host=self.call.local.host,
            )
        self.agent = leg
        gone = asyncio.ensure_future(self.gone.wait())
        ringing = asyncio.ensure_future(leg.ring())
        await asyncio.wait({gone, ringing}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if ringing.done() and ringing.result() and not self.gone.is_set():
            return True
        leg.hangup()
        ringing.cancel()
        leg.close()
        self.agent = None
        return False

    async def _ringing_push(
        self, route: numbers.Route, event: AgentRinging, no_answer: list[str]
    ) -> None:
        """The agent ringing push (§4.2), queued before the agent's phone rings."""
        rt = self.owner.rt
        try:
            async with rt.sessions.begin() as session:
                await pushes.queue_ringing(
                    session,
                    account_id=route.account_id,
                    app_id=route.app_id,
                    call_id=self.session_id,
                    called=route.number,
                    called_info=None,
                    task_id=None,
                    agent=event.agent,
                    no_answer=no_answer,
                    at=event.at,
                    now=rt.clock.now(),
                    due=rt.wall.now(),
                    ring_type=ccrecords.RING_CALL_CENTER,
                    caller=(self.call.caller or "")[:32] or None,
                )
        except Exception:
            # a lost push must not cost the caller the agent
            log.exception("queueing the ringing push of inbound call %s", self.session_id)

    # -- the record -----------------------------------------------------------------------
    def record_row(self) -> dict[str, Any]:
        route = self.route
        assert route is not None
        f = self.facts
        end = f.ended or self.clock.now()
        agent = f.agent
        talked_from = f.agent_answered if agent is not None else None
        duration = (
            max(0, math.ceil((end - talked_from).total_seconds() - 1e-6)) if talked_from else 0
        )
        if f.by is HangupBy.CALLEE:
            direction = BY_CUSTOMER
        elif f.by is HangupBy.AGENT:
            direction = BY_AGENT
        else:
            direction = BY_SYSTEM
        return {
            "call_session_id": self.session_id,
            "account_id": route.account_id,
            "app_id": route.app_id,
            "task_id": None,
            "voice_id": None,
            "group_id": route.group_id,
            "seat_id": agent.key_id if agent else None,
            "called": route.number[:20],
            "called_info": None,
            "caller": (self.call.caller or "")[:32] or None,
            "ccode": None,
            "agent_name": agent.name if agent else None,
            "agent_group_name": route.group_name,
            "call_duration": duration,
            "call_type": INCOMING,
            "hangup_code": f.code,
            "hangup_reason": ANSWERED_THEN_HUNG_UP if agent else NOT_ANSWERED_BY_AGENT,
            "hanging_direction": direction,
            "no_answer_agents": list(f.no_answer),
            "base_cost": Decimal(0),  # inbound calls are not charged (yet)
            "cost": Decimal(0),
            # the caller gave up waiting: it hung up before any agent took the call
            "abandoned": agent is None and f.by is HangupBy.CALLEE,
            "call_start_time": f.started,
            "answer_time": f.answered,
            "transfer_time": f.answered,
            "agent_answer_time": f.agent_answered if agent else None,
            "call_end_time": end,
        }

    async def _write_record(self) -> None:
        if self.facts.ended is None:
            # our BYE or refusal is out; wait briefly for the call to report its end
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gone.wait(), 1.0)
        row = self.record_row()
        rt = self.owner.rt
        now = rt.clock.now()
        async with rt.sessions.begin() as session:
            await session.execute(insert(CcRecord), [row])
            await pushes.queue_cc_records(session, [row], now, due=rt.wall.now())
        log.info(
            "inbound call to %s from %s: %s",
            row["called"],
            row["caller"],
            f"agent {row['agent_name']}" if row["agent_name"] else "no agent",
        )


def _session_id() -> int:
    return secrets.randbelow(2**31)
