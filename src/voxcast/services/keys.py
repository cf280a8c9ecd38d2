"""An account's API keys and voice apps as its developer settings show them: list, create
(the secret is returned once and kept only sealed), enable and disable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.security import SecretBox
from voxcast.storage.models import ApiKey, App

#: keys and apps an account may hold: enough for rotation and a few integrations, and a bound
#: on what one compromised console login can create
MAX_KEYS = 20
MAX_APPS = 50


@dataclass(frozen=True)
class NewKey:
    api_key: str
    api_secret: str


async def list_keys(session: AsyncSession, account_id: int) -> list[ApiKey]:
    return list(
        (
            await session.scalars(
                select(ApiKey)
                .where(ApiKey.account_id == account_id)
                .order_by(ApiKey.created_at, ApiKey.api_key)
            )
        ).all()
    )


async def create_key(
    session: AsyncSession, box: SecretBox, account_id: int, now: datetime
) -> NewKey:
    """A new enabled key and secret for the account."""
    count = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.account_id == account_id)
    )
    if int(count or 0) >= MAX_KEYS:
        raise ApiError(Code.OVER_QUOTA, f"an account holds at most {MAX_KEYS} API keys")
    key, secret = ids.api_key(), ids.api_secret()
    session.add(
        ApiKey(
            api_key=key,
            account_id=account_id,
            secret_enc=box.seal(secret),
            enabled=True,
            created_at=now,
        )
    )
    await session.flush()
    return NewKey(key, secret)


async def set_key_enabled(
    session: AsyncSession, account_id: int, api_key: str, enabled: bool
) -> None:
    """Enable or disable one of the account's keys; the last enabled key cannot be disabled
    from here (the account would lock itself out of the API)."""
    key = await session.get(ApiKey, api_key)
    if key is None or key.account_id != account_id:
        raise ApiError(Code.NOT_FOUND, f"apiKey {api_key[:40]} does not exist")
    if not enabled and key.enabled:
        others = await session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(
                ApiKey.account_id == account_id, ApiKey.enabled.is_(True), ApiKey.api_key != api_key
            )
        )
        if not others:
            raise ApiError(Code.PARAMETER, "apiKey: the account's last enabled key stays enabled")
    key.enabled = enabled


async def list_apps(session: AsyncSession, account_id: int) -> list[App]:
    return list(
        (
            await session.scalars(
                select(App).where(App.account_id == account_id).order_by(App.created_at, App.app_id)
            )
        ).all()
    )


async def create_app(session: AsyncSession, account_id: int, name: str, now: datetime) -> App:
    """A new voice app (its appId generated) for the account."""
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise ApiError(Code.PARAMETER, "name: 1-128 characters")
    count = await session.scalar(
        select(func.count()).select_from(App).where(App.account_id == account_id)
    )
    if int(count or 0) >= MAX_APPS:
        raise ApiError(Code.OVER_QUOTA, f"an account holds at most {MAX_APPS} apps")
    app = App(
        app_id=ids.app_id(), account_id=account_id, name=name, push_batch=False, created_at=now
    )
    session.add(app)
    await session.flush()
    return app
