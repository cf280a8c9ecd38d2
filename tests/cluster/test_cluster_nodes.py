"""The cluster's nodes as Kamailio sees them: an agent registered through Kamailio (Path, RFC
3327) is rung by any node, not only the one it registered with; a node cut off from PostgreSQL
answers the dispatcher's OPTIONS 503 and is routed around until its link returns; a node sent
SIGUSR1 drains (no new calls, 503 to the probes), lets its calls in progress end and exits 0."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.cluster.netns import SIP_PORT, Cluster, Node
from tests.cluster.test_cluster import call_in, running_cluster
from tests.conftest import PostgresFactory
from tests.interop.peers import (
    BARESIP,
    AgentAccount,
    baresip_account,
    baresip_config,
    write_tone,
)
from voxcast.services import agents, numbers
from voxcast.services.agents import AgentStatus
from voxcast.storage.models import Account, Agent, CallRecord

pytestmark = pytest.mark.timeout(280)
#: the agents' group's number: its agent signs in through Kamailio
AGENTS_NUMBER = "4002"
#: a node's probe of PostgreSQL runs every second and gives up after 2 s; Kamailio probes every
#: 2 s and waits 2 s for an answer
UNREADY_WITHIN_S = 10.0
READY_WITHIN_S = 10.0
#: the campaign a node drains in the middle of, and its calls' talk time (sandbox seconds:
#: 15 s of wall time at the cluster's speed 20)
DRAIN_NUMBERS = 80
DRAIN_TALK_S = 300


def start_phone(net: Cluster, work: Path, name: str, password: str) -> subprocess.Popen[bytes]:
    """baresip on the bridge, registering through Kamailio (its account's registrar is
    Kamailio's address) and answering every call at once."""
    conf, recordings = work / "conf", work / "recordings"
    conf.mkdir(parents=True)
    recordings.mkdir()
    (conf / "contacts").write_text("")
    port = 5070
    config = baresip_config(port, write_tone(work / "microphone.wav"), recordings)
    (conf / "config").write_text(config.replace("127.0.0.1", net.host_ip))
    account = baresip_account(port, AgentAccount((net.host_ip, SIP_PORT), name, password))
    (conf / "accounts").write_text(account)
    with (work / "baresip.log").open("wb") as out:
        return subprocess.Popen(
            ["stdbuf", "-oL", "-eL", BARESIP, "-f", str(conf), "-s", "-v"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def invites_from(log: str, nodes: list[Node]) -> list[str]:
    """The node behind each INVITE the phone got: the node's Via under Kamailio's."""
    found = []
    for chunk in re.split(r"\nINVITE sip:", log)[1:]:
        head = chunk.split("\r\n\r\n")[0].split("\n\n")[0]
        vias = re.findall(r"Via: SIP/2\.0/UDP ([\d.]+):", head, re.IGNORECASE)
        found.extend(n.name for n in nodes if n.ip in vias[:3])
    return found


async def test_an_agent_registered_through_kamailio_is_rung_by_every_node(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None
    async with running_cluster(pg_factory, tmp_path) as rig:
        now = rig.rt.clock.now()
        async with rig.rt.sessions.begin() as session:
            group = await agents.add_group(session, rig.account_id, rig.app_id, "desk", now)
            await agents.set_basic(session, rig.account_id, group.id, {"timeoutWaitSec": 20})
            [seat] = await agents.add_agents(
                session, rig.rt.secrets, rig.account_id, group.id, 1, None, None, now
            )
            await numbers.add_number(session, AGENTS_NUMBER, group.id, now)
        phone_log = tmp_path / "phone" / "baresip.log"
        phone = start_phone(rig.net, tmp_path / "phone", seat.name, seat.password)
        try:
            deadline = time.monotonic() + 20
            while True:
                async with rig.rt.sessions() as session:
                    row = await session.scalar(select(Agent).where(Agent.id == seat.key_id))
                assert row is not None
                if row.status == AgentStatus.IDLE:
                    break
                assert phone.poll() is None and time.monotonic() < deadline, phone_log.read_text(
                    errors="replace"
                )[-4000:]
                await asyncio.sleep(0.1)
            said = f"agent {seat.name} registered"
            registered_with = [n.name for n in rig.net.nodes if said in n.log.read_text()]
            # three calls in turn, round robin: one answered by each node, each ringing the phone
            inbound = await call_in(
                rig.net, 3, "inbound_agent_routed.xml", AGENTS_NUMBER, one_at_a_time=True
            )
            rung_by = invites_from(phone_log.read_text(errors="replace"), rig.net.nodes)
        finally:
            phone.send_signal(signal.SIGKILL)
            phone.wait(timeout=10)
    context = f"{inbound.errors}\n{phone_log.read_text(errors='replace')[-4000:]}\n{rig.logs()}"
    assert len(registered_with) == 1, registered_with
    assert inbound.ok, context
    assert inbound.answered_by == {n.ip: 1 for n in rig.net.nodes}, context
    # each node rang the phone through Kamailio, also those it did not register with
    assert sorted(rung_by) == sorted(n.name for n in rig.net.nodes), (rung_by, context)
    # the binding is Kamailio's Path, in PostgreSQL for every node
    assert row.contact_path is not None and rig.net.host_ip in row.contact_path, row.contact_path


async def test_a_node_without_its_database_or_draining_is_routed_around(
    pg_factory: PostgresFactory | None, tmp_path: Path
) -> None:
    assert pg_factory is not None
    async with running_cluster(pg_factory, tmp_path) as rig:
        net = rig.net
        cut, drained = net.nodes[1], net.nodes[2]
        others = [n for n in net.nodes if n is not cut]
        # cut off from PostgreSQL (not from Kamailio): 503 to the probes, taken out
        net.cut_database(cut)
        cut_at = time.monotonic()
        await asyncio.to_thread(
            net.wait_dispatcher,
            lambda flags: (
                flags[cut.ip].startswith("I") and all(flags[n.ip] == "AP" for n in others)
            ),
            UNREADY_WITHIN_S,
        )
        unready_after = time.monotonic() - cut_at
        net.restore_database(cut)
        await asyncio.to_thread(
            net.wait_dispatcher, lambda flags: set(flags.values()) == {"AP"}, READY_WITHIN_S
        )
        # a campaign the node to drain starts alone (the others cut off from the database
        # claim nothing), of calls long enough to be in progress when it is told to drain
        # (15 s of wall time each), paced so that the others, back, dial the rest
        rest = [n for n in net.nodes if n is not drained]
        for node in rest:
            net.cut_database(node)
        async with rig.rt.sessions.begin() as session:
            await session.execute(
                update(Account).where(Account.id == rig.account_id).values(max_cps=1)
            )
        task_id = await rig.campaign(DRAIN_NUMBERS, loop_count=100, max_calls=DRAIN_TALK_S)
        deadline = time.monotonic() + 60
        while not await rig.held_by(task_id, drained):
            assert time.monotonic() < deadline, rig.logs()
            await asyncio.sleep(0.05)
        for node in rest:
            net.restore_database(node)
        held = await rig.held_by(task_id, drained)
        assert drained.proc is not None
        told_at = rig.rt.clock.now()
        drained.proc.send_signal(signal.SIGUSR1)
        await asyncio.to_thread(
            net.wait_dispatcher, lambda flags: flags[drained.ip].startswith("I"), UNREADY_WITHIN_S
        )
        await asyncio.to_thread(
            net.wait_dispatcher,
            lambda flags: all(flags[n.ip] == "AP" for n in rest),
            READY_WITHIN_S,
        )
        exit_code = await asyncio.to_thread(drained.proc.wait, 60)
        await rig.finished(task_id)
        attempts, records = await rig.outcome(task_id)
        dialed = {n.name: n.dialed() for n in net.nodes}
        async with rig.rt.sessions() as session:
            held_ended = dict(
                (
                    await session.execute(
                        select(CallRecord.callee, CallRecord.hangup_time).where(
                            CallRecord.task_id == task_id, CallRecord.callee.in_(held)
                        )
                    )
                ).all()
            )
    assert unready_after < UNREADY_WITHIN_S
    assert exit_code == 0, rig.logs()
    assert attempts == [1] * DRAIN_NUMBERS, "a number was dialed twice (or never)"
    # the calls the drained node held when told to drain (some: it dialed alone until then)
    # went on after it and ended normally, none was lost
    assert held, rig.logs()
    assert len(records) == DRAIN_NUMBERS and set(records.values()) == {"200"}
    assert held <= set(dialed[drained.name])
    assert set(held_ended) == held
    assert all(ended is not None and ended > told_at for ended in held_ended.values())
    ended = [c for calls in dialed.values() for c in calls]
    assert len(ended) == len(set(ended))
