"""Trunks in the database: validation, encrypted passwords, routing accounts, the directory
that gives the dialer each account's carrier, and the schema matching the models."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxcast.runtime import Runtime
from voxcast.services import accounts, trunks
from voxcast.storage.models import Base, Trunk
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.telephony.sip.aio.carrier import SipCarrier
from voxcast.telephony.sip.core.sdp import PCMA, PCMU


def spec(**kw: object) -> trunks.TrunkSpec:
    base: dict[str, object] = {"name": "carrier-a", "host": "127.0.0.1", "port": 5070}
    base.update(kw)
    return trunks.TrunkSpec(**base)  # type: ignore[arg-type]


def _trigger_enforced(change: object, dialect: str) -> bool:
    """callees.task_id's key, enforced by triggers on PostgreSQL (migration 0015)."""
    if dialect != "postgresql" or not isinstance(change, tuple) or change[0] != "add_fk":
        return False
    fk = change[1]
    return bool(fk.parent.name == "callees" and [c.name for c in fk.columns] == ["task_id"])


async def test_the_migrated_schema_matches_the_models(rt: Runtime) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        changes = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [c for c in changes if not _trigger_enforced(c, connection.dialect.name)]

    async with rt.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_a_trunk_is_stored_with_its_password_encrypted(rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await trunks.add_trunk(
            session,
            rt.secrets,
            spec(username="acct", password="s3cret-pass", codecs="pcma, pcmu", max_cps=5),
            rt.clock.now(),
            replace=False,
        )
    async with rt.sessions() as session:
        row = (await session.execute(select(Trunk))).scalar_one()
        assert row.password_enc and "s3cret-pass" not in row.password_enc
        config = await trunks.get_config(session, rt.secrets, "carrier-a")
    assert config.password == "s3cret-pass"
    assert config.credentials is not None and config.credentials.username == "acct"
    assert config.codecs == (PCMA, PCMU)
    assert config.max_cps == 5.0


@pytest.mark.parametrize(
    ("bad", "option"),
    [
        ({"name": "has space"}, "--name"),
        ({"host": "bad host!"}, "--host"),
        ({"port": 0}, "--port"),
        ({"transport": "sctp"}, "--transport"),
        ({"password": "x"}, "--password"),
        ({"codecs": "g729"}, "--codecs"),
        ({"codecs": "pcmu,pcmu"}, "--codecs"),
        ({"caller_id": "12 34"}, "--caller-id"),
        ({"max_channels": -1}, "--max-channels"),
        ({"srtp": "always"}, "--srtp"),
    ],
)
def test_bad_trunk_settings_name_the_option(bad: dict[str, object], option: str) -> None:
    with pytest.raises(trunks.TrunkError, match=option):
        trunks.validate(spec(**bad))


async def test_srtp_is_stored_with_the_trunk_and_off_by_default(rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await trunks.add_trunk(session, rt.secrets, spec(), rt.clock.now(), replace=False)
        await trunks.add_trunk(
            session,
            rt.secrets,
            spec(name="secure", transport="tls", srtp="mandatory"),
            rt.clock.now(),
            replace=False,
        )
    async with rt.sessions() as session:
        assert (await trunks.get_config(session, rt.secrets, "carrier-a")).srtp == "off"
        assert (await trunks.get_config(session, rt.secrets, "secure")).srtp == "mandatory"
    # keys in SDP are readable on a signalling path without TLS: the CLI warns then
    assert spec(srtp="optional").keys_in_clear
    assert not spec(transport="tls", srtp="mandatory").keys_in_clear
    assert not spec().keys_in_clear


async def test_adding_twice_needs_replace(rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        await trunks.add_trunk(session, rt.secrets, spec(), rt.clock.now(), replace=False)
    with pytest.raises(trunks.TrunkError, match="--replace"):
        async with rt.sessions.begin() as session:
            await trunks.add_trunk(session, rt.secrets, spec(), rt.clock.now(), replace=False)
    async with rt.sessions.begin() as session:
        await trunks.add_trunk(session, rt.secrets, spec(port=5080), rt.clock.now(), replace=True)
        assert (await trunks.get_config(session, rt.secrets, "carrier-a")).port == 5080


async def test_accounts_route_to_their_trunk_and_others_to_the_sandbox(rt: Runtime) -> None:
    async with rt.sessions.begin() as session:
        one = await accounts.create_account(session, rt.secrets, rt.clock.now(), name="one")
        two = await accounts.create_account(session, rt.secrets, rt.clock.now(), name="two")
        await trunks.add_trunk(session, rt.secrets, spec(), rt.clock.now(), replace=False)
        with pytest.raises(trunks.TrunkError, match="no trunk"):
            await trunks.use_trunk(session, one.account_id, "nope")
        with pytest.raises(trunks.TrunkError, match="no account"):
            await trunks.use_trunk(session, 999_999, "carrier-a")
        await trunks.use_trunk(session, one.account_id, "carrier-a")
    sandbox = SandboxCarrier(rt.clock)
    directory = CarrierDirectory(rt, sandbox)
    try:
        await directory.refresh()
        routed = directory.carrier_for(one.account_id)
        assert isinstance(routed, SipCarrier) and routed.trunk.port == 5070
        assert directory.carrier_for(two.account_id) is sandbox
        with pytest.raises(trunks.TrunkError, match="used by accounts"):
            async with rt.sessions.begin() as session:
                await trunks.remove_trunk(session, "carrier-a")
        async with rt.sessions.begin() as session:
            await trunks.use_trunk(session, one.account_id, None)
            await trunks.remove_trunk(session, "carrier-a")
        await directory.refresh()
        assert directory.carrier_for(one.account_id) is sandbox
    finally:
        await directory.close()


class DownSessions:
    """A runtime's sessions that refuse to connect while `down`, counting the tries."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.down = False
        self.tries = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        if self.down:
            self.tries += 1
            raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))
        async with self.real() as session:
            yield session


@pytest.mark.timeout(60)
async def test_trunk_refreshes_ride_out_a_database_outage_in_two_lines_and_resume(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database is down the refresh loop keeps the routing it has, warns once (no
    traceback per refresh), and picks up what changed meanwhile once it is back."""
    async with rt.sessions.begin() as session:
        one = await accounts.create_account(session, rt.secrets, rt.clock.now(), name="one")
        await trunks.add_trunk(session, rt.secrets, spec(), rt.clock.now(), replace=False)
        await trunks.use_trunk(session, one.account_id, "carrier-a")
    rt.settings.trunk_refresh_seconds = 0.02
    sessions = DownSessions(rt.sessions)
    sandbox = SandboxCarrier(rt.clock)
    directory = CarrierDirectory(dataclasses.replace(rt, sessions=sessions), sandbox)  # type: ignore[arg-type]
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="voxcast.carriers")
    try:
        await directory.refresh()
        assert isinstance(directory.carrier_for(one.account_id), SipCarrier)
        sessions.down = True
        loop = asyncio.create_task(directory.run(stop))
        for _ in range(500):
            if sessions.tries >= 5:
                break
            await asyncio.sleep(0.01)
        assert sessions.tries >= 5
        routed = directory.carrier_for(one.account_id)  # the routing it had, kept
        assert isinstance(routed, SipCarrier) and routed.trunk.port == 5070
        async with rt.sessions.begin() as session:  # changed while this worker could not see
            await trunks.use_trunk(session, one.account_id, None)
        sessions.down = False
        for _ in range(500):
            if directory.carrier_for(one.account_id) is sandbox:
                break
            await asyncio.sleep(0.01)
        assert directory.carrier_for(one.account_id) is sandbox
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
    finally:
        stop.set()
        await directory.close()
    ours = [r for r in caplog.records if r.name == "voxcast.carriers"]
    assert all(r.exc_info is None for r in ours)
    outage = [(r.levelname, r.getMessage()) for r in ours if "database" in r.getMessage()]
    assert outage[0] == (
        "WARNING",
        "database unreachable (OperationalError: (builtins.ConnectionRefusedError) connection "
        "refused); trunks and routes stay as last read until it is back",
    )
    assert len(outage) == 2 and outage[1][0] == "WARNING"
    assert outage[1][1].startswith("database reachable again after ")
