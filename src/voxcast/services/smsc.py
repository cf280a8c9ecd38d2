"""SMSC connections the SMPP transport binds to: added, listed and removed by the operator
(`voxcast admin smsc`), their passwords sealed with the server key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.codes import ApiError, Code
from voxcast.domain.smsc import SmscConfig
from voxcast.security import SecretBox
from voxcast.storage.models import SmscConnection

#: SMPP 3.4 field sizes (system_id C-Octet String of 16, password 9, system_type 13)
MAX_SYSTEM_ID, MAX_PASSWORD, MAX_SYSTEM_TYPE = 15, 8, 12


def _check(host: str, port: int, system_id: str, password: str, system_type: str) -> None:
    if not host.strip():
        raise ApiError(Code.PARAMETER, "host: is empty")
    if not 1 <= port <= 65535:
        raise ApiError(Code.PARAMETER, "port: 1-65535")
    if not system_id or len(system_id) > MAX_SYSTEM_ID:
        raise ApiError(Code.PARAMETER, f"system_id: 1-{MAX_SYSTEM_ID} characters")
    if len(password) > MAX_PASSWORD:
        raise ApiError(Code.PARAMETER, f"password: at most {MAX_PASSWORD} characters")
    if len(system_type) > MAX_SYSTEM_TYPE:
        raise ApiError(Code.PARAMETER, f"system_type: at most {MAX_SYSTEM_TYPE} characters")


async def add(
    session: AsyncSession,
    box: SecretBox,
    *,
    host: str,
    port: int,
    system_id: str,
    password: str,
    system_type: str = "",
    window: int = 10,
    rate: int = 50,
    enabled: bool = True,
    now: datetime,
) -> SmscConnection:
    _check(host, port, system_id, password, system_type)
    if window < 1:
        raise ApiError(Code.PARAMETER, "window: at least 1")
    if rate < 1:
        raise ApiError(Code.PARAMETER, "rate: at least 1 per second")
    row = SmscConnection(
        host=host.strip(),
        port=port,
        system_id=system_id,
        password_enc=box.seal(password),
        system_type=system_type,
        window=window,
        rate=rate,
        enabled=enabled,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def remove(session: AsyncSession, smsc_id: int) -> None:
    row = await session.get(SmscConnection, smsc_id)
    if row is None:
        raise ApiError(Code.NOT_FOUND, f"SMSC {smsc_id} does not exist")
    await session.delete(row)


async def list_all(session: AsyncSession) -> list[SmscConnection]:
    return list((await session.scalars(select(SmscConnection).order_by(SmscConnection.id))).all())


async def enabled_configs(session: AsyncSession, box: SecretBox) -> list[SmscConfig]:
    """The SMSCs to bind to, passwords opened (empty list: the sandbox transport is used)."""
    return [
        SmscConfig(
            host=row.host,
            port=row.port,
            system_id=row.system_id,
            password=box.open(row.password_enc),
            system_type=row.system_type,
            window=row.window,
            rate_per_s=float(row.rate),
        )
        for row in await list_all(session)
        if row.enabled
    ]
