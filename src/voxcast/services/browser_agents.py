"""Browser agents (the agent workspace): their "registration" while the page is open, their
break, and the call offered to them, kept with the agent so the worker ringing it and the
process serving the page (two processes under `voxcast serve`) see the same call."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.security import SecretBox
from voxcast.services.agents import AgentStatus, agent_of_token, apply_binding
from voxcast.storage.models import Agent

#: an agent's contact while its page is open: `webrtc:<host>:<port>`, the plain RTP address of
#: the page's media (what a softphone's SDP would give)
SCHEME = "webrtc:"
#: seconds the page's registration lasts unless the page renews it
REGISTRATION_S = 120


class CallState:
    NONE, RINGING, ANSWERED, HUNG_UP = 0, 1, 2, 3


@dataclass(frozen=True)
class BrowserAgent:
    key_id: int
    name: str
    pet_name: str | None
    group_id: int
    status: int


@dataclass(frozen=True)
class OfferedCall:
    """A call offered to (or taken by) a browser agent: `call_id` is the offer's own id."""

    call_id: str
    state: int
    callee: str
    info: dict[str, str]
    codec: int
    #: where the agent leg's RTP is (the page's media sends there once answered)
    leg: tuple[str, int]
    offered_at: str
    answered_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.call_id,
            "callee": self.callee,
            "info": self.info,
            "codec": self.codec,
            "leg": list(self.leg),
            "at": self.offered_at,
            "answered": self.answered_at,
        }


def is_browser(target: str | None) -> bool:
    return bool(target and target.startswith(SCHEME))


def media_address(target: str) -> tuple[str, int]:
    """The page's RTP address from its contact `webrtc:<host>:<port>`."""
    host, _, port = target.removeprefix(SCHEME).rpartition(":")
    return host, int(port)


def _browser(agent: Agent) -> BrowserAgent:
    return BrowserAgent(agent.id, agent.name, agent.pet_name, agent.group_id, agent.status)


async def sign_in(
    session: AsyncSession, box: SecretBox, name: str, password: str
) -> BrowserAgent | None:
    """The enabled agent `name` if `password` is its SIP password."""
    agent = (
        await session.execute(select(Agent).where(Agent.name == name, Agent.enable.is_(True)))
    ).scalar_one_or_none()
    if agent is None or not _same(box.open(agent.password_enc), password):
        return None
    return _browser(agent)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def by_token(session: AsyncSession, token: str, now: datetime) -> BrowserAgent | None:
    agent = await agent_of_token(session, token, now)
    return _browser(agent) if agent is not None else None


async def get(
    session: AsyncSession, key_id: int, now: datetime, token_fingerprint: str = ""
) -> BrowserAgent | None:
    """The enabled agent `key_id`; with `token_fingerprint` (a page opened with a credential)
    only while that credential is the agent's current one and unexpired."""
    agent = await session.get(Agent, key_id)
    if agent is None or not agent.enable:
        return None
    if token_fingerprint and (
        not (agent.sdk_token_hash or "").startswith(token_fingerprint)
        or agent.sdk_token_expires is None
        or agent.sdk_token_expires <= now
    ):
        return None
    return _browser(agent)


async def register(session: AsyncSession, name: str, media: tuple[str, int], now: datetime) -> None:
    """The page is open (and its media listens at `media`): the agent can be rung, and is
    idle if it was offline; renewed by the page's polling."""
    await apply_binding(session, name, f"{SCHEME}{media[0]}:{media[1]}", REGISTRATION_S, now)


async def unregister(session: AsyncSession, name: str, now: datetime) -> None:
    await apply_binding(session, name, None, 0, now)


async def set_break(session: AsyncSession, key_id: int, on: bool, now: datetime) -> bool:
    """Break (status 5) from idle, or back to idle from break; False when the agent is in
    neither (busy, wrapping up, offline)."""
    start, end = (
        (AgentStatus.IDLE, AgentStatus.BREAK) if on else (AgentStatus.BREAK, AgentStatus.IDLE)
    )
    done = await session.execute(
        update(Agent)
        .where(Agent.id == key_id, Agent.status == start)
        .values(status=end, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def offered(session: AsyncSession, key_id: int) -> OfferedCall | None:
    row = (
        await session.execute(
            select(Agent.browser_call, Agent.browser_state).where(Agent.id == key_id)
        )
    ).first()
    if row is None or row[0] is None or row[1] == CallState.NONE:
        return None
    call, state = row
    leg = call.get("leg") or ["", 0]
    return OfferedCall(
        call_id=str(call["id"]),
        state=int(state),
        callee=str(call.get("callee") or ""),
        info={str(k): str(v) for k, v in (call.get("info") or {}).items()},
        codec=int(call.get("codec") or 0),
        leg=(str(leg[0]), int(leg[1])),
        offered_at=str(call.get("at") or ""),
        answered_at=str(call.get("answered") or ""),
    )


async def offer(session: AsyncSession, key_id: int, call: OfferedCall) -> None:
    await session.execute(
        update(Agent)
        .where(Agent.id == key_id)
        .values(browser_call=call.as_json(), browser_state=CallState.RINGING)
        .execution_options(synchronize_session=False)
    )


async def _move(
    session: AsyncSession,
    key_id: int,
    call_id: str,
    start: tuple[int, ...],
    end: int,
    at: datetime | None = None,
) -> bool:
    current = await offered(session, key_id)
    if current is None or current.call_id != call_id or current.state not in start:
        return False
    values: dict[str, Any] = {"browser_state": end}
    if at is not None:
        values["browser_call"] = {**current.as_json(), "answered": at.isoformat()}
    if end == CallState.NONE:
        values["browser_call"] = None
    await session.execute(
        update(Agent)
        .where(Agent.id == key_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return True


async def answer(
    session: AsyncSession, key_id: int, call_id: str, now: datetime | None = None
) -> bool:
    """The agent took the ringing call `call_id` (at `now`, for the page's timer)."""
    return await _move(session, key_id, call_id, (CallState.RINGING,), CallState.ANSWERED, at=now)


async def hang_up(session: AsyncSession, key_id: int, call_id: str) -> bool:
    """The agent ended (or refused) call `call_id`."""
    return await _move(
        session, key_id, call_id, (CallState.RINGING, CallState.ANSWERED), CallState.HUNG_UP
    )


async def withdraw(session: AsyncSession, key_id: int, call_id: str) -> bool:
    """The call is over on the callee's side (or was never taken): nothing is offered now."""
    return await _move(
        session,
        key_id,
        call_id,
        (CallState.RINGING, CallState.ANSWERED, CallState.HUNG_UP),
        CallState.NONE,
    )
