"""SIP trunks: adding and listing them, pointing an account's calls at one, and reading them
back as the SIP carrier's configuration."""

from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.security import SecretBox
from voxcast.storage.models import Account, Trunk
from voxcast.telephony.sip.aio.carrier import TrunkConfig
from voxcast.telephony.sip.core.sdes import SRTP_MODES
from voxcast.telephony.sip.core.sdp import CODECS_BY_NAME

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$")
_CALLER = re.compile(r"^\+?[0-9A-Za-z_.-]{1,64}$")
TRANSPORTS = ("udp", "tcp", "tls")
#: RFC 3261 §19.1.2: SIP over TLS listens on 5061, UDP and TCP on 5060
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


class TrunkError(ValueError):
    """A trunk setting that cannot work; the message names the option."""


@dataclass(frozen=True)
class TrunkSpec:
    """What `voxcast admin trunk add` is given."""

    name: str
    host: str
    port: int | None = None  # None: located by DNS (stored as 0), else 5060 (TLS 5061)
    transport: str = "udp"
    username: str | None = None
    password: str | None = None
    realm: str | None = None
    caller_id: str | None = None
    max_channels: int = 0
    max_cps: int = 0
    codecs: str = "pcmu,pcma"
    register: bool = False
    tls_ca: str | None = None
    tls_insecure: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    srtp: str = "off"

    @property
    def keys_in_clear(self) -> bool:
        """SRTP keys would travel in SDP over a signalling path that is not encrypted."""
        return self.srtp != "off" and self.transport != "tls"


def parse_codecs(text: str) -> tuple[int, ...]:
    names = [c.strip().lower() for c in text.split(",") if c.strip()]
    if not names or any(n not in CODECS_BY_NAME for n in names) or len(set(names)) != len(names):
        raise TrunkError(f"--codecs must list pcmu and/or pcma, not {text!r}")
    return tuple(CODECS_BY_NAME[n] for n in names)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST.match(host))
    return True


def validate(spec: TrunkSpec) -> None:
    if not _NAME.match(spec.name):
        raise TrunkError("--name: 1-64 letters, digits, '.', '_' or '-'")
    if not _valid_host(spec.host):
        raise TrunkError(f"--host: {spec.host!r} is not a host name or IP address")
    if spec.port is not None and not 1 <= spec.port <= 65535:
        raise TrunkError("--port must be 1-65535")
    if spec.transport not in TRANSPORTS:
        raise TrunkError("--transport must be udp, tcp or tls")
    _validate_tls(spec)
    if spec.srtp not in SRTP_MODES:
        raise TrunkError("--srtp must be off, optional or mandatory")
    if spec.password and not spec.username:
        raise TrunkError("--password needs --username")
    if spec.register and not spec.username:
        raise TrunkError("--register needs --username")
    if spec.caller_id is not None and not _CALLER.match(spec.caller_id):
        raise TrunkError("--caller-id: digits (and an optional +), up to 64 characters")
    if spec.max_channels < 0 or spec.max_cps < 0:
        raise TrunkError("--max-channels and --max-cps must be 0 (no limit) or more")
    parse_codecs(spec.codecs)


def _validate_tls(spec: TrunkSpec) -> None:
    """TLS options need --transport tls, and their files must be readable PEM here (the
    worker reads them again when it connects: keep them where it can)."""
    given = [
        option
        for option, value in (
            ("--tls-ca", spec.tls_ca),
            ("--tls-insecure", spec.tls_insecure),
            ("--tls-cert", spec.tls_cert),
            ("--tls-key", spec.tls_key),
        )
        if value
    ]
    if given and spec.transport != "tls":
        raise TrunkError(f"{given[0]} needs --transport tls")
    if spec.tls_key and not spec.tls_cert:
        raise TrunkError("--tls-key needs --tls-cert")
    if spec.tls_insecure and spec.tls_ca:
        raise TrunkError("--tls-insecure checks no certificate: drop --tls-ca or it")
    if spec.tls_ca:
        try:
            ssl.create_default_context(cafile=spec.tls_ca)
        except (OSError, ValueError) as err:
            raise TrunkError(f"--tls-ca: cannot load {spec.tls_ca!r} as PEM: {err}") from err
    if spec.tls_cert:
        try:
            ssl.create_default_context().load_cert_chain(spec.tls_cert, spec.tls_key)
        except (OSError, ValueError) as err:
            raise TrunkError(
                f"--tls-cert: cannot load {spec.tls_cert!r} with its key: {err}"
            ) from err


def _absolute(path: str | None) -> str | None:
    """Stored absolute: a worker started elsewhere finds the same file."""
    return str(Path(path).resolve()) if path else None


async def add_trunk(
    session: AsyncSession, box: SecretBox, spec: TrunkSpec, now: datetime, *, replace: bool
) -> Trunk:
    """Create the trunk, or with `replace` overwrite one of the same name."""
    validate(spec)
    trunk = await session.get(Trunk, spec.name)
    if trunk is not None and not replace:
        raise TrunkError(f"trunk {spec.name!r} exists (use --replace to change it)")
    if trunk is None:
        trunk = Trunk(name=spec.name, created_at=now)
        session.add(trunk)
    trunk.host = spec.host
    trunk.port = spec.port or 0
    trunk.transport = spec.transport
    trunk.username = spec.username
    trunk.password_enc = box.seal(spec.password) if spec.password else None
    trunk.realm = spec.realm
    trunk.caller_id = spec.caller_id
    trunk.max_channels = spec.max_channels
    trunk.max_cps = spec.max_cps
    trunk.codecs = ",".join(c.strip().lower() for c in spec.codecs.split(",") if c.strip())
    trunk.register = spec.register
    trunk.tls_ca = _absolute(spec.tls_ca)
    trunk.tls_insecure = spec.tls_insecure
    trunk.tls_cert = _absolute(spec.tls_cert)
    trunk.tls_key = _absolute(spec.tls_key)
    trunk.srtp = spec.srtp
    await session.flush()
    return trunk


async def remove_trunk(session: AsyncSession, name: str) -> None:
    trunk = await session.get(Trunk, name)
    if trunk is None:
        raise TrunkError(f"no trunk named {name!r}")
    users = (await session.execute(select(Account.id).where(Account.trunk == name))).scalars()
    in_use = list(users)
    if in_use:
        raise TrunkError(f"trunk {name!r} is used by accounts {in_use}; move them first")
    await session.delete(trunk)


async def use_trunk(session: AsyncSession, account_id: int, name: str | None) -> None:
    """Send the account's calls through trunk `name` (None: back to the sandbox)."""
    if name is not None and await session.get(Trunk, name) is None:
        raise TrunkError(f"no trunk named {name!r}")
    done = await session.execute(update(Account).where(Account.id == account_id).values(trunk=name))
    if not done.rowcount:  # type: ignore[attr-defined]
        raise TrunkError(f"no account {account_id}")


async def list_trunks(session: AsyncSession) -> list[Trunk]:
    return list((await session.execute(select(Trunk).order_by(Trunk.name))).scalars())


def config_of(trunk: Trunk, box: SecretBox) -> TrunkConfig:
    return TrunkConfig(
        name=trunk.name,
        host=trunk.host,
        port=trunk.port or None,
        transport=trunk.transport,
        username=trunk.username,
        password=box.open(trunk.password_enc) if trunk.password_enc else None,
        realm=trunk.realm,
        caller_id=trunk.caller_id,
        max_channels=trunk.max_channels,
        max_cps=float(trunk.max_cps),
        codecs=parse_codecs(trunk.codecs),
        register=trunk.register,
        tls_ca=trunk.tls_ca,
        tls_insecure=bool(trunk.tls_insecure),
        tls_cert=trunk.tls_cert,
        tls_key=trunk.tls_key,
        srtp=trunk.srtp or "off",
    )


Routing = tuple[dict[int, str], dict[str, TrunkConfig]]


async def routing(session: AsyncSession, box: SecretBox) -> Routing:
    """Which account uses which trunk, and every trunk's configuration."""
    routes = {
        int(account_id): str(name)
        for account_id, name in await session.execute(
            select(Account.id, Account.trunk).where(Account.trunk.is_not(None))
        )
    }
    configs = {t.name: config_of(t, box) for t in await list_trunks(session)}
    return routes, configs


async def get_config(session: AsyncSession, box: SecretBox, name: str) -> TrunkConfig:
    trunk = await session.get(Trunk, name)
    if trunk is None:
        raise TrunkError(f"no trunk named {name!r}")
    return config_of(trunk, box)
