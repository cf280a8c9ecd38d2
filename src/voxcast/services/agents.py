"""Call-center agent groups and agents (api-catalog §5.1, §5.2): create, change, delete and
query them within an account, with the vendor's codes. Agent status is the registrar's."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import JOB_NUMBER_DUPLICATED, ApiError, Code
from voxcast.security import SecretBox
from voxcast.services.accounts import get_account, require_app
from voxcast.services.listing import matching
from voxcast.storage.models import Agent, AgentGroup, App, InboundNumber


class AgentStatus:
    OFFLINE, IDLE, BUSY, WRAP_UP, BREAK = 1, 2, 3, 4, 5


#: basicSetting fields kept as given; an empty value ("" or null) clears one
SETTING_FIELDS = (
    "timeoutTransferSec",
    "callinAutoAnswerSec",
    "wrapUpTime",
    "timeoutIdle",
    "timeoutWaitSec",
    "turnSeatRing",
    "labelName",
    "displaySwitch",
    "encryptNumber",
    "fsNode",
)
MAX_AGENTS_PER_REQUEST = 1000
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_password(length: int = 16) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def valid_ccode(ccode: str) -> bool:
    return ccode.isdigit() and phonenumbers.region_code_for_country_code(int(ccode)) != "ZZ"


# -- groups -----------------------------------------------------------------------------------


async def _group(session: AsyncSession, account_id: int, group_id: int) -> AgentGroup:
    group = await session.get(AgentGroup, group_id)
    if group is None or group.account_id != account_id:
        raise ApiError(Code.NOT_FOUND, f"voiceGroupId {group_id} does not exist")
    return group


async def transfer_group(
    session: AsyncSession, account_id: int, group_id: int, field: str, app_id: str | None = None
) -> AgentGroup:
    """An agent group a task may hand callees to: the account's, and the app's when `app_id`
    is given; else -74 naming `field`."""
    group = await session.get(AgentGroup, group_id) if 0 < group_id <= 2**31 - 1 else None
    if (
        group is None
        or group.account_id != account_id
        or (app_id is not None and group.app_id != app_id)
    ):
        where = f"app {app_id}" if app_id is not None else "your account"
        raise ApiError(
            Code.GROUP_NOT_IN_APP_74, f"{field}: agent group {group_id} is not one of {where}"
        )
    return group


async def _name_taken(
    session: AsyncSession, app_id: str, name: str, but: int | None = None
) -> bool:
    """Case-insensitively, in Python: SQLite's lower() knows only ASCII, and an app has few
    groups."""
    query = select(AgentGroup.id, AgentGroup.group_name).where(AgentGroup.app_id == app_id)
    wanted = name.casefold()
    return any(
        group_id != but and existing.casefold() == wanted
        for group_id, existing in await session.execute(query)
    )


async def add_group(
    session: AsyncSession, account_id: int, app_id: str, name: str, now: datetime
) -> AgentGroup:
    await require_app(session, account_id, app_id)
    if await _name_taken(session, app_id, name):
        raise ApiError(Code.EXISTS, f"groupName {name!r} already exists in app {app_id}")
    group = AgentGroup(
        account_id=account_id,
        app_id=app_id,
        group_name=name,
        callin_strategy=4,
        settings={},
        created_at=now,
    )
    session.add(group)
    await session.flush()
    return group


async def rename_group(session: AsyncSession, account_id: int, group_id: int, name: str) -> None:
    group = await _group(session, account_id, group_id)
    if await _name_taken(session, group.app_id, name, but=group.id):
        raise ApiError(Code.EXISTS, f"groupName {name!r} already exists in app {group.app_id}")
    group.group_name = name


async def delete_group(session: AsyncSession, account_id: int, group_id: int) -> None:
    group = await _group(session, account_id, group_id)
    count = await session.scalar(select(func.count()).where(Agent.group_id == group.id))
    if count:
        raise ApiError(Code.AGENTS_EXIST, f"voiceGroupId {group_id} still has {count} agents")
    # its inbound numbers go with it: nothing could answer them any more
    await session.execute(delete(InboundNumber).where(InboundNumber.group_id == group.id))
    await session.delete(group)


async def query_groups(
    session: AsyncSession, account_id: int, name: str | None, current: int, size: int
) -> tuple[list[dict[str, Any]], int]:
    where = [AgentGroup.account_id == account_id]
    if name:
        where.append(matching(AgentGroup.group_name, name))
    total = int(
        await session.scalar(select(func.count()).select_from(AgentGroup).where(*where)) or 0
    )
    agents = select(Agent.group_id, func.count().label("n")).group_by(Agent.group_id).subquery()
    rows = await session.execute(
        select(AgentGroup, App.name, agents.c.n)
        .join(App, App.app_id == AgentGroup.app_id)
        .outerjoin(agents, agents.c.group_id == AgentGroup.id)
        .where(*where)
        .order_by(AgentGroup.id.desc())
        .offset((current - 1) * size)
        .limit(size)
    )
    return [
        {
            "voiceGroupId": g.id,
            "callinStrategy": g.callin_strategy,
            "countSeat": int(n or 0),
            "groupName": g.group_name,
            "appName": app_name,
        }
        for g, app_name, n in rows
    ], total


async def set_basic(
    session: AsyncSession, account_id: int, group_id: int, values: dict[str, Any]
) -> None:
    """basicSetting: `callinStrategy` and the SETTING_FIELDS given; empty values clear."""
    group = await _group(session, account_id, group_id)
    strategy = values.get("callinStrategy")
    if strategy not in (None, ""):
        group.callin_strategy = int(strategy)
    settings = dict(group.settings or {})
    for name in SETTING_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if value in (None, "", []):
            settings.pop(name, None)
        else:
            settings[name] = value
    group.settings = settings


async def basic_of(session: AsyncSession, account_id: int, group_id: int) -> dict[str, Any]:
    group = await _group(session, account_id, group_id)
    app = await session.get(App, group.app_id)
    out: dict[str, Any] = {
        "voiceGroupId": group.id,
        "seatGroupId": group.id,  # the vendor's sample names it so
        "groupName": group.group_name,
        "appName": app.name if app else None,
        "callinStrategy": group.callin_strategy,
    }
    settings = group.settings or {}
    for name in SETTING_FIELDS:
        out[name] = settings.get(name)
    out["turnSeatRingUrl"] = None
    return out


# -- agents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAgent:
    key_id: int
    name: str
    password: str


async def add_agents(
    session: AsyncSession,
    box: SecretBox,
    account_id: int,
    group_id: int,
    size: int,
    display_num: str | None,
    ccode: str | None,
    now: datetime,
) -> list[NewAgent]:
    group = await _group(session, account_id, group_id)
    if ccode and not valid_ccode(ccode):
        raise ApiError(Code.COUNTRY_CODE, f"ccode {ccode} is not a country calling code")
    have, limit = await agent_quota(session, account_id)
    if have + size > limit:
        raise ApiError(
            Code.OVER_QUOTA,
            f"size: {size} more agents would exceed the account's {limit} ({have} exist)",
        )
    return await create_agents(session, box, group, size, display_num, ccode, now)


async def agent_quota(session: AsyncSession, account_id: int) -> tuple[int, int]:
    """How many agents (SIP phones included) the account has, and how many it may have."""
    account = await get_account(session, account_id)
    have = int(
        await session.scalar(select(func.count()).where(Agent.account_id == account_id)) or 0
    )
    return have, account.max_seats


async def create_agents(
    session: AsyncSession,
    box: SecretBox,
    group: AgentGroup,
    size: int,
    display_num: str | None,
    ccode: str | None,
    now: datetime,
    *,
    pet_names: list[str] | None = None,
    password_length: int = 16,
) -> list[NewAgent]:
    """`size` agents in `group`, named `<appId>_001`... after the app's highest number, each
    with a random password (kept encrypted); the caller has checked the quota."""
    prefix = f"{group.app_id}_"
    names = (await session.scalars(select(Agent.name).where(Agent.name.startswith(prefix)))).all()
    used = {int(n[len(prefix) :]) for n in names if n[len(prefix) :].isdigit()}
    number = max(used, default=0)
    created: list[NewAgent] = []
    for i in range(size):
        number += 1
        password = new_password(password_length)
        agent = Agent(
            account_id=group.account_id,
            app_id=group.app_id,
            group_id=group.id,
            name=f"{prefix}{number:03d}",
            pet_name=pet_names[i] if pet_names else None,
            display_num=display_num or None,
            ccode=ccode or None,
            password_enc=box.seal(password),
            enable=True,
            priority=1,
            status=AgentStatus.OFFLINE,
            status_changed_at=now,
            created_at=now,
        )
        session.add(agent)
        await session.flush()
        created.append(NewAgent(agent.id, agent.name, password))
    return created


async def _agent(session: AsyncSession, account_id: int, key_id: int) -> Agent:
    agent = await session.get(Agent, key_id)
    if agent is None or agent.account_id != account_id:
        raise ApiError(Code.NOT_FOUND, f"keyId {key_id} does not exist")
    return agent


async def update_agent(
    session: AsyncSession, box: SecretBox, account_id: int, key_id: int, fields: dict[str, Any]
) -> None:
    agent = await _agent(session, account_id, key_id)
    if fields.get("name") not in (None, agent.name):
        raise ApiError(Code.PARAMETER, f"name: keyId {key_id} is agent {agent.name}")
    group = await session.get(AgentGroup, int(fields["voiceGroupId"]))
    if group is None or group.account_id != account_id or group.app_id != agent.app_id:
        raise ApiError(
            Code.GROUP_NOT_IN_APP, f"voiceGroupId {fields['voiceGroupId']} is not in this app"
        )
    if group.id != agent.group_id and agent.status == AgentStatus.BUSY:
        raise ApiError(Code.AGENT_ON_CALL, f"agent {agent.name} is on a call")
    ccode = fields.get("ccode")
    if ccode and not valid_ccode(str(ccode)):
        raise ApiError(Code.COUNTRY_CODE, f"ccode {ccode} is not a country calling code")
    emp_no = fields["empNo"]
    clash = await session.scalar(
        select(Agent.id).where(
            Agent.account_id == account_id, Agent.emp_no == emp_no, Agent.id != agent.id
        )
    )
    if clash is not None:
        raise ApiError(
            Code.NO_CALLABLE_NUMBER,
            f"empNo {emp_no} is used by another agent",
            title=JOB_NUMBER_DUPLICATED,
        )
    agent.group_id = group.id
    agent.emp_no = emp_no
    agent.pet_name = fields.get("petName") or agent.pet_name
    if fields.get("displayNum") is not None:
        agent.display_num = fields["displayNum"] or None
    if ccode is not None:
        agent.ccode = str(ccode) or None
    if fields.get("password"):
        agent.password_enc = box.seal(str(fields["password"]))
    if fields.get("priority") is not None:
        agent.priority = int(fields["priority"])


def agent_json(agent: Agent, group_name: str | None) -> dict[str, Any]:
    return {
        "keyId": agent.id,
        "empNo": agent.emp_no,
        "petName": agent.pet_name,
        "name": agent.name,
        "appId": agent.app_id,
        "deleteFlag": 0,
        "enable": 1 if agent.enable else 0,
        "priority": agent.priority,
        "voiceGroupId": agent.group_id,
        "groupName": group_name,
        "status": agent.status,
        "displayNum": agent.display_num,
        "ccode": agent.ccode,
        "registered": agent.contact is not None,
    }


async def query_agents(
    session: AsyncSession,
    account_id: int,
    *,
    start: datetime,
    end: datetime,
    enable: int | None,
    name: str | None,
    group_id: int | None,
    status: int | None,
    current: int,
    size: int,
) -> tuple[list[dict[str, Any]], int]:
    """Agents created in [start, end] (at most 32 days), newest first."""
    if end < start:
        raise ApiError(Code.PARAMETER, "params.endTime: must not be before params.strTime")
    if end - start > timedelta(days=32):
        raise ApiError(Code.OUT_OF_TIME_RANGE, "params: strTime to endTime spans over 32 days")
    where = [Agent.account_id == account_id, Agent.created_at >= start, Agent.created_at <= end]
    if enable is not None:
        where.append(Agent.enable.is_(bool(enable)))
    if name:
        where.append(matching(Agent.name, name))
    if group_id is not None:
        where.append(Agent.group_id == group_id)
    if status is not None:
        where.append(Agent.status == status)
    total = int(await session.scalar(select(func.count()).select_from(Agent).where(*where)) or 0)
    rows = await session.execute(
        select(Agent, AgentGroup.group_name)
        .join(AgentGroup, AgentGroup.id == Agent.group_id)
        .where(*where)
        .order_by(Agent.id.desc())
        .offset((current - 1) * size)
        .limit(size)
    )
    return [agent_json(agent, group_name) for agent, group_name in rows], total


async def expire_registrations(session: AsyncSession, now: datetime) -> int:
    """Agents whose registration ran out are offline again; one on a call (or wrapping it
    up) keeps its status, and goes offline when the call is released unless it registered
    again meanwhile."""
    expired = (Agent.contact.is_not(None), Agent.contact_expires < now)
    on_call = Agent.status.in_((AgentStatus.BUSY, AgentStatus.WRAP_UP))
    done = await session.execute(
        update(Agent)
        .where(*expired, ~on_call)
        .values(
            contact=None,
            contact_expires=None,
            contact_path=None,
            status=AgentStatus.OFFLINE,
            status_changed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    busy = await session.execute(
        update(Agent)
        .where(*expired, on_call)
        .values(contact=None, contact_expires=None, contact_path=None)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0) + int(busy.rowcount or 0)  # type: ignore[attr-defined]


# -- registration (the registrar's side) -----------------------------------------------------


async def agent_password(session: AsyncSession, box: SecretBox, name: str) -> str | None:
    """The SIP password of an enabled agent, or None."""
    row = (
        await session.execute(
            select(Agent.password_enc).where(Agent.name == name, Agent.enable.is_(True))
        )
    ).first()
    return box.open(row[0]) if row else None


async def apply_binding(
    session: AsyncSession,
    name: str,
    target: str | None,
    expires: int,
    now: datetime,
    path: tuple[str, ...] = (),
) -> None:
    """A registration (target and seconds, and the Path of the proxies it came through) or an
    unregistration (expires 0): the agent goes idle when it registers from offline and offline
    when it unregisters (unless on a call)."""
    agent = (await session.execute(select(Agent).where(Agent.name == name))).scalar_one_or_none()
    if agent is None:
        return
    if expires <= 0 or target is None:
        agent.contact = None
        agent.contact_expires = None
        agent.contact_path = None
        if agent.status != AgentStatus.BUSY:
            agent.status = AgentStatus.OFFLINE
            agent.status_changed_at = now
        return
    agent.contact = target
    agent.contact_path = "\n".join(path) or None
    agent.contact_expires = now + timedelta(seconds=expires)
    if agent.status == AgentStatus.OFFLINE:
        agent.status = AgentStatus.IDLE
        agent.status_changed_at = now


# -- the console's overview ---------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLine:
    """An agent as the console lists it: `status` is the registrar's (AgentStatus), and
    `password` is None unless the caller asked for the SIP passwords."""

    key_id: int
    name: str
    pet_name: str | None
    status: int
    registered: bool
    password: str | None


@dataclass(frozen=True)
class GroupLine:
    group_id: int
    name: str
    app_id: str
    app_name: str | None
    callin_strategy: int
    wait_seconds: int | None
    agents: list[AgentLine]


async def account_groups(
    session: AsyncSession,
    box: SecretBox,
    account_id: int,
    *,
    group_id: int | None = None,
    passwords: bool = False,
) -> list[GroupLine]:
    """The account's agent groups (only `group_id` when given: another account's is -24),
    newest first, each with its agents and their live status, as `cc/seat/query` reads it."""
    if group_id is not None:
        await _group(session, account_id, group_id)
    where = [AgentGroup.account_id == account_id]
    if group_id is not None:
        where.append(AgentGroup.id == group_id)
    groups = (
        await session.execute(
            select(AgentGroup, App.name)
            .join(App, App.app_id == AgentGroup.app_id)
            .where(*where)
            .order_by(AgentGroup.id.desc())
        )
    ).all()
    members: dict[int, list[AgentLine]] = {g.id: [] for g, _ in groups}
    rows = await session.scalars(
        select(Agent).where(Agent.group_id.in_(list(members))).order_by(Agent.id)
    )
    for agent in rows:
        members[agent.group_id].append(
            AgentLine(
                key_id=agent.id,
                name=agent.name,
                pet_name=agent.pet_name,
                status=agent.status,
                registered=agent.contact is not None,
                password=box.open(agent.password_enc) if passwords else None,
            )
        )
    out = []
    for g, app_name in groups:
        wait = (g.settings or {}).get("timeoutWaitSec")
        out.append(
            GroupLine(
                group_id=g.id,
                name=g.group_name,
                app_id=g.app_id,
                app_name=app_name,
                callin_strategy=g.callin_strategy,
                wait_seconds=int(wait) if wait is not None else None,
                agents=members[g.id],
            )
        )
    return out


# -- the browser softphone's credential (cc/seat/createSdkAuthentication) ---------------------

#: how long a credential may be valid, in seconds (api-catalog §5.2)
SDK_MIN_S, SDK_MAX_S = 60, 28800
_SDK_SCHEME = "Bearer "


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_sdk_token(
    session: AsyncSession, account_id: int, name: str, expires_s: int, now: datetime
) -> str:
    """A new credential for the account's agent `name`, valid `expires_s` seconds; the agent's
    previous one stops working. Only its hash is kept."""
    agent = (
        await session.execute(
            select(Agent).where(Agent.name == name, Agent.account_id == account_id)
        )
    ).scalar_one_or_none()
    if agent is None:
        raise ApiError(Code.NOT_FOUND, f"account {name!r} is not an agent of yours")
    token = f"{secrets.token_urlsafe(8)[:10]}:{agent.name}:{uuid.uuid4()}"
    agent.sdk_token_hash = _token_hash(token)
    agent.sdk_token_expires = now + timedelta(seconds=expires_s)
    return _SDK_SCHEME + token


def token_fingerprint(token: str) -> str:
    """What a page opened with `token` keeps of it: the start of its stored hash, so the page
    stops working once the credential is replaced or runs out."""
    return _token_hash(token.strip().removeprefix(_SDK_SCHEME).strip())[:16]


async def agent_of_token(session: AsyncSession, token: str, now: datetime) -> Agent | None:
    """The enabled agent whose current, unexpired credential `token` is (with or without its
    "Bearer " prefix), else None."""
    token = token.strip().removeprefix(_SDK_SCHEME).strip()
    parts = token.split(":")
    if len(parts) != 3 or not parts[1]:
        return None
    agent = (
        await session.execute(select(Agent).where(Agent.name == parts[1]))
    ).scalar_one_or_none()
    if (
        agent is None
        or not agent.enable
        or agent.sdk_token_hash is None
        or agent.sdk_token_expires is None
        or agent.sdk_token_expires <= now
        or not hmac.compare_digest(agent.sdk_token_hash, _token_hash(token))
    ):
        return None
    return agent
