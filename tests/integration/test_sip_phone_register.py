"""SIP phones made through the voice API register at voxcast's registrar: SIPp, as the phone,
signs in with the account and password sipQuery lists; after sipReset the old password is
refused with 403 and the new one signs in. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from tests.conftest import Tenant
from tests.sipp.runner import Sipp, SippResult
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def registrar(rt: Runtime) -> AsyncIterator[AgentRegistrar]:
    service = AgentRegistrar(rt, "127.0.0.1", 0)
    await service.start()
    yield service
    await service.close()


async def register(
    registrar: AgentRegistrar, scenario: str, user: str, password: str
) -> SippResult:
    """One REGISTER exchange of tests/sipp/uac/`scenario` as `user` with `password`."""
    phone = await Sipp.start(
        f"uac/{scenario}",
        remote=registrar.address,
        rtp_echo=False,
        timeout_s=10,
        extra_args=("-s", user, "-au", user, "-ap", password),
    )
    try:
        return await phone.wait(15)
    finally:
        phone.cleanup()


async def seat_of(rt: Runtime, name: str) -> Agent:
    async with rt.sessions() as session:
        return (await session.execute(select(Agent).where(Agent.name == name))).scalar_one()


async def test_a_phone_registers_and_after_sip_reset_only_the_new_password_works(
    rt: Runtime, registrar: AgentRegistrar, tenant: Tenant
) -> None:
    added = await tenant.client.sip_add(tenant.app_id, "front-desk", "desk", 2, "861000000")
    assert added.code == "0", added.reason
    listed = await tenant.client.sip_query(tenant.app_id)
    phone = listed.data["records"][1]
    account, old = phone["account"], phone["password"]
    assert (phone["phoneName"], account) == ("desk-2", f"{tenant.app_id}_002")

    signed_in = await register(registrar, "agent_register_only.xml", account, old)
    assert signed_in.ok, signed_in
    seat = await seat_of(rt, account)
    assert seat.status == agents.AgentStatus.IDLE and seat.contact is not None

    reset = await tenant.client.sip_reset(tenant.app_id, account)
    assert reset.code == "0", reset.reason
    new = reset.data["password"]
    assert new != old

    refused = await register(registrar, "register_refused.xml", account, old)
    assert refused.ok, refused  # the scenario expects 403 to the old credentials
    again = await register(registrar, "agent_register_only.xml", account, new)
    assert again.ok, again

    # the other phone of the batch was not touched by the reset
    other = listed.data["records"][0]
    untouched = await register(
        registrar, "agent_register_only.xml", other["account"], other["password"]
    )
    assert untouched.ok, untouched
