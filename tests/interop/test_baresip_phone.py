"""baresip as a SIP phone of the voice API: made with sipAdd, its password reset with
sipReset, it signs in at voxcast's registrar with the new password and the phone (an agent)
goes idle; quitting unregisters it. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from tests.conftest import Tenant
from tests.interop.conftest import StartBaresip
from tests.interop.peers import AgentAccount, wait_for
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.models import Agent
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def registrar(rt: Runtime) -> AsyncIterator[AgentRegistrar]:
    service = AgentRegistrar(rt, "127.0.0.1", 0)
    await service.start()
    yield service
    await service.close()


async def test_baresip_signs_in_as_a_phone_with_its_reset_password(
    rt: Runtime, registrar: AgentRegistrar, tenant: Tenant, baresip: StartBaresip
) -> None:
    assert (await tenant.client.sip_add(tenant.app_id, "front-desk", "desk", 1)).code == "0"
    [phone] = (await tenant.client.sip_query(tenant.app_id)).data["records"]
    reset = await tenant.client.sip_reset(tenant.app_id, phone["account"])
    assert reset.code == "0", reset.reason

    async def status() -> int:
        async with rt.sessions() as session:
            seat = await session.scalar(select(Agent).where(Agent.name == phone["account"]))
            assert seat is not None
            return seat.status

    async def idle() -> bool:
        return await status() == agents.AgentStatus.IDLE

    async def offline() -> bool:
        return await status() == agents.AgentStatus.OFFLINE

    peer = await baresip(AgentAccount(registrar.address, phone["account"], reset.data["password"]))
    await wait_for(idle, 10, f"phone {phone['account']} idle", peer)
    assert await peer.stop() == 0, peer.log()
    await wait_for(offline, 10, f"phone {phone['account']} offline", peer)
