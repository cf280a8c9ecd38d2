"""Accounts, API keys and voice apps: creation, authentication of signed requests, settings."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast import compliance
from voxcast.domain import ids
from voxcast.domain.codes import ApiError, Code
from voxcast.domain.enums import TerminationStyle
from voxcast.domain.signing import sign_matches
from voxcast.security import SecretBox
from voxcast.services.authcache import AuthCache, Entry
from voxcast.storage.models import Account, ApiKey, App

log = logging.getLogger(__name__)

#: the Timestamp header: Unix seconds in ASCII digits (18 at most, so int() stays cheap)
_TIMESTAMP = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Credentials:
    account_id: int
    api_key: str
    api_secret: str
    app_id: str

    def as_json(self) -> dict[str, object]:
        return {
            "accountId": self.account_id,
            "apiKey": self.api_key,
            "apiSecret": self.api_secret,
            "appId": self.app_id,
        }


async def create_account(
    session: AsyncSession,
    box: SecretBox,
    now: datetime,
    *,
    name: str,
    balance: Decimal = Decimal(0),
    api_key: str | None = None,
    api_secret: str | None = None,
    app_id: str | None = None,
) -> Credentials:
    """A new account with one API key and one voice app. Keys are generated unless given."""
    key = api_key or ids.api_key()
    secret = api_secret or ids.api_secret()
    if await session.get(ApiKey, key) is not None:
        raise ApiError(Code.EXISTS, f"apiKey {key} already exists")
    account = Account(
        name=name,
        balance=balance,
        gift=Decimal(0),
        credit=Decimal(0),
        ip_whitelist="",
        timezone="UTC",
        bill_period="60+60",
        max_concurrent_tasks=50,
        locked=False,
        created_at=now,
    )
    session.add(account)
    await session.flush()
    session.add(
        ApiKey(
            api_key=key,
            account_id=account.id,
            secret_enc=box.seal(secret),
            enabled=True,
            created_at=now,
        )
    )
    app = App(
        app_id=app_id or ids.app_id(),
        account_id=account.id,
        name=f"{name} voice app",
        push_batch=False,
        created_at=now,
    )
    session.add(app)
    await session.flush()
    return Credentials(account.id, key, secret, app.app_id)


async def find_by_api_key(session: AsyncSession, api_key: str) -> tuple[Account, ApiKey] | None:
    row = (
        await session.execute(
            select(Account, ApiKey)
            .join(ApiKey, ApiKey.account_id == Account.id)
            .where(ApiKey.api_key == api_key)
        )
    ).first()
    return (row[0], row[1]) if row else None


def ip_allowed(whitelist: str, ip: str | None) -> bool:
    """True when the whitelist is empty or `ip` is in one of its addresses or networks."""
    entries = [e.strip() for e in whitelist.replace(";", ",").split(",") if e.strip()]
    if not entries:
        return True
    if ip is None:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in entries:
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _check_headers(api_key: str | None, timestamp: str | None, sign: str | None) -> str:
    if not api_key or not sign or not timestamp:
        missing = [
            n for n, v in (("Api-Key", api_key), ("Sign", sign), ("Timestamp", timestamp)) if not v
        ]
        raise ApiError(Code.AUTH, f"missing header {', '.join(missing)}")
    return api_key.strip()


def _verify(
    *,
    api_key: str,
    secret: str,
    enabled: bool,
    account: Account,
    timestamp: str,
    sign: str,
    client_ip: str | None,
    now: datetime,
    skew_seconds: int,
) -> Account:
    ts = timestamp.strip()
    if not sign_matches(api_key, secret, ts, sign):
        raise ApiError(Code.AUTH, "Sign does not match MD5(ApiKey+ApiSecret+Timestamp)")
    # int() alone also reads "+1764000000", "1764_000000" and non-ASCII digits: one instant
    # would have many spellings, each with its own valid Sign
    if not _TIMESTAMP.fullmatch(ts):
        raise ApiError(Code.TIMESTAMP, "Timestamp must be Unix time in seconds (ASCII digits only)")
    seconds = int(ts)
    if abs(now.timestamp() - seconds) > skew_seconds:
        raise ApiError(Code.TIMESTAMP, f"Timestamp is more than {skew_seconds} s from server time")
    if not enabled:
        raise ApiError(Code.API_KEY_DISABLED)
    if account.locked:
        raise ApiError(Code.USER_LOCKED)
    if not ip_allowed(account.ip_whitelist, client_ip):
        raise ApiError(Code.IP_RESTRICTED, f"{client_ip} is not in the account's IP whitelist")
    return account


async def authenticate(
    session: AsyncSession,
    box: SecretBox,
    *,
    api_key: str | None,
    timestamp: str | None,
    sign: str | None,
    client_ip: str | None,
    now: datetime,
    skew_seconds: int,
) -> Account:
    """Check the vendor's Sign rule and the account's limits; the order decides the code.

    Unknown key or wrong sign → -1 before anything else is revealed; then a timestamp outside
    the skew window → -16; then a disabled key (-30), a locked account (-13), a foreign IP (-2).
    """
    name = _check_headers(api_key, timestamp, sign)
    assert timestamp is not None and sign is not None
    found = await find_by_api_key(session, name)
    if found is None:
        raise ApiError(Code.AUTH, "unknown Api-Key")
    account, key = found
    return _verify(
        api_key=key.api_key,
        secret=box.open(key.secret_enc),
        enabled=key.enabled,
        account=account,
        timestamp=timestamp,
        sign=sign,
        client_ip=client_ip,
        now=now,
        skew_seconds=skew_seconds,
    )


async def authenticate_cached(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    cache: AuthCache,
    *,
    api_key: str | None,
    timestamp: str | None,
    sign: str | None,
    client_ip: str | None,
    now: datetime,
    skew_seconds: int,
) -> Account:
    """`authenticate` through the verified-key cache: a key seen within the cache's TTL (and
    not changed since by this process) is checked without the database or a decryption."""
    name = _check_headers(api_key, timestamp, sign)
    assert timestamp is not None and sign is not None
    entry = cache.get(name)
    if entry is None:
        entry = await _read_key(sessions, box, cache, name)
        if entry is None:
            raise ApiError(Code.AUTH, "unknown Api-Key")
    elif cache.due(entry):
        _background(_read_key(sessions, box, cache, name))
    return _verify(
        api_key=entry.api_key,
        secret=entry.secret,
        enabled=entry.enabled,
        account=entry.account(),
        timestamp=timestamp,
        sign=sign,
        client_ip=client_ip,
        now=now,
        skew_seconds=skew_seconds,
    )


async def _read_key(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox, cache: AuthCache, name: str
) -> Entry | None:
    """The key's verified entry from the database (None: no such key), read once however many
    requests miss it at the same moment; stored unless this process changed keys meanwhile."""
    pending = cache.loading.get(name)
    if pending is not None:
        await asyncio.wait([pending])
        if not pending.cancelled():
            return pending.result()
    loading: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
    cache.loading[name] = loading
    try:
        generation = cache.generation
        async with sessions() as session:
            found = await find_by_api_key(session, name)
        entry = None
        if found is None:
            cache.discard(name)
        else:
            account, key = found
            entry = cache.entry(key, box.open(key.secret_enc), account)
            cache.put(entry, generation)
        loading.set_result(entry)
        return entry
    finally:
        # a failed or cancelled read: the requests waiting on it read the key themselves
        if not loading.done():
            loading.cancel()
        if cache.loading.get(name) is loading:
            del cache.loading[name]


#: background rereads in flight, held so the loop does not drop them half done
_rereads: set[asyncio.Task[Entry | None]] = set()


def _background(read: Coroutine[Any, Any, Entry | None]) -> None:
    task = asyncio.get_running_loop().create_task(read)
    _rereads.add(task)
    task.add_done_callback(_reread_done)


def _reread_done(task: asyncio.Task[Entry | None]) -> None:
    _rereads.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # the entry stays until it expires; the request that then misses reads it and answers
        log.warning("rereading a verified key failed: %r", task.exception())


async def require_app(session: AsyncSession, account_id: int, app_id: str) -> App:
    """The account's app with this id, else -32 (the key has no permission for the app).

    An unknown appId and another account's are answered alike, so an appId's existence is never
    revealed to another tenant (-24 stays for unknown tasks, files and records).
    """
    app = await session.get(App, app_id)
    if app is None or app.account_id != account_id:
        raise ApiError(Code.APP_PERMISSION, f"appId {app_id[:40]}")
    return app


async def get_account(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise ApiError(Code.NOT_FOUND, f"account {account_id} does not exist")
    return account


async def set_push(
    session: AsyncSession,
    box: SecretBox,
    app_id: str,
    *,
    url: str,
    batch: bool,
    secret: str | None,
) -> App:
    app = await session.get(App, app_id)
    if app is None:
        raise ApiError(Code.NOT_FOUND, f"appId {app_id} does not exist")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(Code.PARAMETER, "url: must start with http:// or https://")
    app.push_url = url or None
    app.push_batch = batch
    if secret is not None:
        app.push_secret_enc = box.seal(secret) if secret else None
    return app


async def set_cc_push(session: AsyncSession, app_id: str, *, url: str, ringing: bool) -> App:
    """Where the app's call-center records (or agent ringing events) are pushed."""
    app = await session.get(App, app_id)
    if app is None:
        raise ApiError(Code.NOT_FOUND, f"appId {app_id} does not exist")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(Code.PARAMETER, "url: must start with http:// or https://")
    if ringing:
        app.ring_push_url = url or None
    else:
        app.cc_push_url = url or None
    return app


async def set_sms_push(session: AsyncSession, app_id: str, *, url: str) -> App:
    """Where the app's SMS delivery reports (§4.6) are pushed."""
    app = await session.get(App, app_id)
    if app is None:
        raise ApiError(Code.NOT_FOUND, f"appId {app_id} does not exist")
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(Code.PARAMETER, "url: must start with http:// or https://")
    app.sms_push_url = url or None
    return app


async def set_termination_style(session: AsyncSession, app_id: str, style: str) -> App:
    """How the app's records and status pushes show terminationCode ("sip" or "zero")."""
    app = await session.get(App, app_id)
    if app is None:
        raise ApiError(Code.NOT_FOUND, f"appId {app_id} does not exist")
    try:
        app.termination_style = TerminationStyle(style.strip().lower()).value
    except ValueError:
        raise ApiError(
            Code.PARAMETER, f"terminationCode style: {style!r} is not 'sip' or 'zero'"
        ) from None
    return app


async def set_ip_whitelist(session: AsyncSession, account_id: int, ips: str) -> None:
    account = await get_account(session, account_id)
    entries = [e.strip() for e in ips.replace(";", ",").split(",") if e.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ApiError(Code.PARAMETER, f"ips: {entry!r} is not an IP or CIDR") from None
    account.ip_whitelist = ",".join(entries)


async def set_balance(
    session: AsyncSession, account_id: int, amount: Decimal, *, relative: bool
) -> Decimal:
    account = await get_account(session, account_id)
    account.balance = account.balance + amount if relative else amount
    return account.balance


async def update_settings(
    session: AsyncSession,
    account_id: int,
    *,
    bill_period: str | None = None,
    max_cps: int | None = None,
    max_channels: int | None = None,
    max_concurrent_tasks: int | None = None,
    timezone: str | None = None,
    calling_hours: str | None = None,
) -> Account:
    """Change an account's billing and dialing settings; each is checked before any is set.
    `calling_hours` "HH:MM-HH:MM" sets the calling-hours guard, "off" removes it."""
    from zoneinfo import ZoneInfo

    from voxcast.domain.billing import BillPeriod

    account = await get_account(session, account_id)
    if bill_period is not None:
        try:
            BillPeriod.parse(bill_period)
        except ValueError as exc:
            raise ApiError(Code.PARAMETER, f"billPeriod: {exc}") from None
    for name, value in (
        ("maxCps", max_cps),
        ("maxChannels", max_channels),
        ("maxConcurrentTasks", max_concurrent_tasks),
    ):
        if value is not None and value < 1:
            raise ApiError(Code.PARAMETER, f"{name}: must be at least 1")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError):
            raise ApiError(Code.PARAMETER, f"timezone: {timezone!r} is not an IANA zone") from None
    hours: str | None = None
    if calling_hours is not None and calling_hours != "off":
        try:
            window = compliance.parse_hours(calling_hours)
        except ValueError as exc:
            raise ApiError(Code.PARAMETER, f"callingHours: {exc}") from None
        hours = f"{window.start:%H:%M}-{window.end:%H:%M}"
    if calling_hours is not None:
        account.calling_hours = hours
    if bill_period is not None:
        account.bill_period = str(BillPeriod.parse(bill_period))
    if max_cps is not None:
        account.max_cps = max_cps
    if max_channels is not None:
        account.max_channels = max_channels
    if max_concurrent_tasks is not None:
        account.max_concurrent_tasks = max_concurrent_tasks
    if timezone is not None:
        account.timezone = timezone
    return account
