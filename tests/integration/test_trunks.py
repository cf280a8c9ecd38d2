"""Trunks in the database: validation, encrypted passwords, routing accounts, the directory
that gives the dialer each account's carrier, and the schema matching the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from voxcast.runtime import Runtime
from voxcast.services import accounts, trunks
from voxcast.storage.models import Base, Trunk
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.telephony.sip.carrier import SipCarrier
from voxcast.telephony.sip.sdp import PCMA, PCMU


def spec(**kw: object) -> trunks.TrunkSpec:
    base: dict[str, object] = {"name": "carrier-a", "host": "127.0.0.1", "port": 5070}
    base.update(kw)
    return trunks.TrunkSpec(**base)  # type: ignore[arg-type]


async def test_the_migrated_schema_matches_the_models(rt: Runtime) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

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
    ],
)
def test_bad_trunk_settings_name_the_option(bad: dict[str, object], option: str) -> None:
    with pytest.raises(trunks.TrunkError, match=option):
        trunks.validate(spec(**bad))


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
