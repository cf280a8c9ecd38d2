"""Console users, their sessions and the audit log: argon2 passwords, roles (admin, owner,
read-only), session tokens kept only as hashes, and one audit row per change."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.storage.console import AuditEntry, ConsoleSession, ConsoleUser
from voxcast.storage.models import Account

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_hasher = PasswordHasher()
#: verified against when the user does not exist, so a wrong name costs the same time as a
#: wrong password and the answer's timing does not reveal which names exist
_DUMMY_HASH = _hasher.hash("voxcast-no-such-user")


class Role(StrEnum):
    ADMIN = "admin"
    OWNER = "owner"
    READONLY = "readonly"


@dataclass(frozen=True)
class Principal:
    """Who a request is: the user and the account its pages show (None: an admin who has not
    picked one)."""

    user_id: int
    username: str
    role: Role
    account_id: int | None
    csrf_token: str

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.OWNER)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ApiError(
            Code.PARAMETER, f"password: must be {MIN_PASSWORD}-{MAX_PASSWORD} characters"
        )


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    account_id: int | None,
    now: datetime,
) -> ConsoleUser:
    """A new console user. Owners and read-only users belong to one account; admins to none."""
    if not _USERNAME.match(username):
        raise ApiError(Code.PARAMETER, "username: 3-64 letters, digits or . _ @ -")
    check_password_rules(password)
    if role == Role.ADMIN and account_id is not None:
        raise ApiError(Code.PARAMETER, "account-id: an admin belongs to no account")
    if role != Role.ADMIN:
        if account_id is None:
            raise ApiError(Code.PARAMETER, f"account-id: a {role.value} user needs an account")
        if await session.get(Account, account_id) is None:
            raise ApiError(Code.NOT_FOUND, f"account {account_id} does not exist")
    taken = await session.scalar(
        select(func.count()).select_from(ConsoleUser).where(ConsoleUser.username == username)
    )
    if taken:
        raise ApiError(Code.EXISTS, f"username {username} already exists")
    user = ConsoleUser(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        account_id=account_id,
        disabled=False,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def verify_login(session: AsyncSession, username: str, password: str) -> ConsoleUser | None:
    """The user when the password matches (rehashing it if the parameters changed)."""
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None or user.disabled:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@dataclass(frozen=True)
class Lifetime:
    """How long a session lasts: `idle` without a request, `absolute` at most."""

    idle: timedelta
    absolute: timedelta


async def open_session(
    session: AsyncSession, user: ConsoleUser, now: datetime, lifetime: Lifetime
) -> str:
    """A new session for `user`; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            account_id=user.account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime.absolute,
        )
    )
    user.last_login_at = now
    # expired sessions of anybody are swept at sign-in: the table stays small without a job
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return token


async def resolve(
    session: AsyncSession, token: str, now: datetime, lifetime: Lifetime
) -> Principal | None:
    """The principal of a live session, its idle time restarted; None when the token is
    unknown, expired (idle or absolute) or its user disabled."""
    row = (
        await session.execute(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == _token_hash(token))
        )
    ).first()
    if row is None:
        return None
    sess, user = row
    if user.disabled or now >= sess.expires_at or now - sess.last_seen_at >= lifetime.idle:
        await session.delete(sess)
        return None
    # written at most once a minute: most page views only read
    if now - sess.last_seen_at >= timedelta(minutes=1):
        sess.last_seen_at = now
    account_id = user.account_id if user.role != Role.ADMIN else sess.account_id
    return Principal(user.id, user.username, Role(user.role), account_id, sess.csrf_token)


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token))
    )


async def pick_account(session: AsyncSession, token: str, account_id: int | None) -> None:
    """An admin's session looks at `account_id` from now on (checked to exist)."""
    if account_id is not None and await session.get(Account, account_id) is None:
        raise ApiError(Code.NOT_FOUND, f"account {account_id} does not exist")
    sess = await session.get(ConsoleSession, _token_hash(token))
    if sess is not None:
        sess.account_id = account_id


async def audit(
    session: AsyncSession,
    who: Principal | None,
    action: str,
    detail: str,
    *,
    now: datetime,
    address: str | None,
    username: str | None = None,
    account_id: int | None = None,
) -> None:
    """One row of the audit log (written in the caller's transaction, with the change)."""
    session.add(
        AuditEntry(
            at=now,
            user_id=who.user_id if who else None,
            username=(who.username if who else username or "")[:64],
            account_id=account_id if account_id is not None else (who.account_id if who else None),
            action=action[:64],
            detail=detail,
            address=(address or "")[:64] or None,
        )
    )


async def recent_audit(
    session: AsyncSession, account_id: int | None, limit: int = 50
) -> list[AuditEntry]:
    """The account's latest audit rows (None: the platform's: trunks, platform rates, admins),
    newest first."""
    owner = (
        AuditEntry.account_id.is_(None)
        if account_id is None
        else (AuditEntry.account_id == account_id)
    )
    return list(
        (
            await session.scalars(
                select(AuditEntry)
                .where(owner)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
        ).all()
    )


async def list_accounts(session: AsyncSession) -> list[Account]:
    """Every account, for the admin's account list."""
    return list((await session.scalars(select(Account).order_by(Account.id))).all())


async def list_users(session: AsyncSession) -> list[ConsoleUser]:
    """Every console user (admins first), for the admin's user list; no password hashes leave
    through the pages that show it."""
    return list(
        (
            await session.scalars(select(ConsoleUser).order_by(ConsoleUser.role, ConsoleUser.id))
        ).all()
    )
