"""SIP phones (`voice/sipAdd`, `sipQuery`, `sipReset`, api-catalog-aivoice-sip §C.1-C.3): a
phone is a call-center agent, and its phone group an agent group, seen through a second API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.security import SecretBox
from voxcast.services import agents
from voxcast.services.accounts import require_app
from voxcast.storage.models import Agent, AgentGroup

MAX_PHONES_PER_REQUEST = 50
#: the vendor's samples show 8-character passwords ("LX9FZdF2"), on creation and on reset
PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Phone:
    group_name: str
    phone_name: str | None
    account: str
    password: str
    display_num: str | None


async def _phone_name_taken(session: AsyncSession, app_id: str, phone_name: str) -> bool:
    """Whether a phone of the app is already called `<phoneName>-<n>`: compared
    case-insensitively in Python, as group names are (SQLite's lower() knows only ASCII)."""
    pattern = re.compile(re.escape(phone_name.casefold()) + r"-[0-9]+")
    names = await session.scalars(
        select(Agent.pet_name).where(Agent.app_id == app_id, Agent.pet_name.is_not(None))
    )
    return any(pattern.fullmatch(name.casefold()) for name in names if name)


async def add_phones(
    session: AsyncSession,
    box: SecretBox,
    account_id: int,
    *,
    app_id: str,
    group_name: str,
    phone_name: str,
    quantity: int,
    display_num: str | None,
    now: datetime,
) -> list[agents.NewAgent]:
    """A new phone group holding `quantity` phones named `<phoneName>-1`...: -32 not the
    caller's app, -20 the group or phone name is used in the app, -23 over the agent quota."""
    # checks the app (-32) and the group name (-20); the caller's transaction is rolled
    # back if a later check fails
    group = await agents.add_group(session, account_id, app_id, group_name, now)
    if await _phone_name_taken(session, app_id, phone_name):
        raise ApiError(Code.EXISTS, f"phoneName {phone_name!r} already exists in app {app_id}")
    have, limit = await agents.agent_quota(session, account_id)
    if have + quantity > limit:
        raise ApiError(
            Code.CAPS,
            f"quantity: {quantity} more phones would exceed the account's {limit} phones and "
            f"agents ({have} exist)",
        )
    return await agents.create_agents(
        session,
        box,
        group,
        quantity,
        display_num,
        None,
        now,
        pet_names=[f"{phone_name}-{i}" for i in range(1, quantity + 1)],
        password_length=PASSWORD_LENGTH,
    )


async def list_phones(
    session: AsyncSession, box: SecretBox, account_id: int, app_id: str, current: int, size: int
) -> tuple[list[Phone], int]:
    """The app's phones and agents, oldest first (`sip-1` before `sip-2`), with their
    passwords in clear as the vendor shows them."""
    await require_app(session, account_id, app_id)
    where = (Agent.app_id == app_id, Agent.account_id == account_id)
    total = int(await session.scalar(select(func.count()).select_from(Agent).where(*where)) or 0)
    rows = await session.execute(
        select(Agent, AgentGroup.group_name)
        .join(AgentGroup, AgentGroup.id == Agent.group_id)
        .where(*where)
        .order_by(Agent.id)
        .offset((current - 1) * size)
        .limit(size)
    )
    return [
        Phone(
            group_name, agent.pet_name, agent.name, box.open(agent.password_enc), agent.display_num
        )
        for agent, group_name in rows
    ], total


async def reset_password(
    session: AsyncSession, box: SecretBox, account_id: int, app_id: str, account: str
) -> str:
    """A new random password for phone `account` of the app (-24 when the app has none such;
    another account's phone is answered alike). A registration made with the old password
    stays until it expires or is refreshed: a call in progress is not cut."""
    await require_app(session, account_id, app_id)
    agent = await session.scalar(
        select(Agent).where(
            Agent.name == account, Agent.app_id == app_id, Agent.account_id == account_id
        )
    )
    if agent is None:
        raise ApiError(Code.NOT_FOUND, f"account {account[:40]!r} does not exist in app {app_id}")
    password = agents.new_password(PASSWORD_LENGTH)
    agent.password_enc = box.seal(password)
    return password
