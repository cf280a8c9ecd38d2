"""Trunks located by DNS (RFC 3263) against a real DNS server (dnsmasq on loopback): SRV
order, NAPTR, the A/AAAA fallback, and failover to the next target when the first does not
answer or answers 503; a name that does not resolve fails its calls, not the worker."""

from __future__ import annotations

import time

import pytest

from tests.dnsmasq.server import dnsmasq
from tests.integration.test_sip_calls import SipRig, finished, run_task, sip_rig
from tests.sipp.runner import HOST, Sipp, free_udp_port
from voxcast.config import Settings
from voxcast.services import trunks
from voxcast.telephony.sip.aio.carrier import SipCarrier
from voxcast.telephony.sip.aio.dns import ResolveError, Resolver, Target


def srv_pair(first: int, second: int, service: str = "_sip._udp.trunk.test") -> list[str]:
    """SRV records of `service`: node1 (priority 10) on port `first`, node2 (20) on `second`;
    listed lowest priority last, so the order comes from the priorities."""
    return [
        f"--srv-host={service},node2.trunk.test,{second},20,10",
        f"--srv-host={service},node1.trunk.test,{first},10,10",
        f"--host-record=node1.trunk.test,{HOST}",
        f"--host-record=node2.trunk.test,{HOST}",
    ]


async def test_srv_records_come_in_priority_order() -> None:
    with dnsmasq(srv_pair(5070, 5080)) as server:
        resolver = Resolver([server])
        assert await resolver.resolve("trunk.test", None, ("udp",)) == [
            Target(HOST, 5070, "udp"),
            Target(HOST, 5080, "udp"),
        ]
        # an explicit port: the name's own addresses only (§4.2), and here it has none
        with pytest.raises(ResolveError):
            await resolver.resolve("trunk.test", 5090, ("udp",))
        assert await resolver.resolve("node2.trunk.test", 5090, ("udp",)) == [
            Target(HOST, 5090, "udp")
        ]


async def test_naptr_picks_the_transport_and_a_bare_name_falls_back_to_5060() -> None:
    records = [
        "--naptr-record=pbx.test,10,10,S,SIP+D2T,,_sip._tcp.pbx.test",
        "--naptr-record=pbx.test,20,10,S,SIP+D2U,,_sip._udp.pbx.test",
        "--srv-host=_sip._tcp.pbx.test,node1.trunk.test,5071,0,0",
        "--srv-host=_sip._udp.pbx.test,node1.trunk.test,5072,0,0",
        f"--host-record=node1.trunk.test,{HOST}",
        "--host-record=plain.test,127.0.0.9",
    ]
    with dnsmasq(records) as server:
        resolver = Resolver([server])
        assert await resolver.resolve("pbx.test") == [
            Target(HOST, 5071, "tcp"),
            Target(HOST, 5072, "udp"),
        ]
        assert await resolver.resolve("pbx.test", None, ("udp",)) == [Target(HOST, 5072, "udp")]
        assert await resolver.resolve("plain.test", None, ("udp",)) == [
            Target("127.0.0.9", 5060, "udp")
        ]


async def use_dns_trunk(rig: SipRig, host: str = "trunk.test") -> None:
    """Send the account's calls through a trunk given by name only (no port: SRV)."""
    spec = trunks.TrunkSpec(name="dns", host=host)
    async with rig.rt.sessions.begin() as session:
        await trunks.add_trunk(session, rig.rt.secrets, spec, rig.rt.clock.now(), replace=True)
        await trunks.use_trunk(session, rig.creds.account_id, "dns")
    await rig.directory.refresh()


async def test_a_call_fails_over_from_a_dead_target_to_the_next(settings: Settings) -> None:
    sipp = await Sipp.start("answer_then_hangup.xml", duration_ms=1000)
    with dnsmasq(srv_pair(free_udp_port(), sipp.port)) as server:
        settings.dns_servers = f"{server[0]}:{server[1]}"
        async with sip_rig(settings) as rig:
            await use_dns_trunk(rig)
            [record] = await run_task(rig, ["8613000000003"])
            carrier = rig.directory.carrier_for(rig.creds.account_id)
            far = await finished(sipp)
    assert far.ok, far
    assert record.sip_code == "200"  # the second target's answer, not the first's 503
    assert isinstance(carrier, SipCarrier)
    assert carrier.trunk.port is None


async def test_a_503_before_ringing_fails_over_once(settings: Settings) -> None:
    refusing = await Sipp.start("reject_503.xml")
    answering = await Sipp.start("answer_then_hangup.xml", duration_ms=1000)
    with dnsmasq(srv_pair(refusing.port, answering.port)) as server:
        settings.dns_servers = f"{server[0]}:{server[1]}"
        async with sip_rig(settings) as rig:
            await use_dns_trunk(rig)
            [record] = await run_task(rig, ["8613000000003"])
            refused, answered = await finished(refusing), await finished(answering)
    assert refused.ok, refused  # it got the ACK of its 503
    assert answered.ok, answered
    assert record.sip_code == "200" and record.termination_code == "200"


async def test_the_retry_is_once_and_the_record_has_the_last_outcome(settings: Settings) -> None:
    first = await Sipp.start("reject_503.xml")
    second = await Sipp.start("reject_503.xml")
    records = [
        *srv_pair(first.port, second.port),
        # a third target is never tried: one retry only
        f"--srv-host=_sip._udp.trunk.test,node3.trunk.test,{free_udp_port()},30,10",
        f"--host-record=node3.trunk.test,{HOST}",
    ]
    with dnsmasq(records) as server:
        settings.dns_servers = f"{server[0]}:{server[1]}"
        async with sip_rig(settings) as rig:
            await use_dns_trunk(rig)
            [record] = await run_task(rig, ["8613000000005"])
            one, two = await finished(first), await finished(second)
    assert one.ok and two.ok, (one, two)
    assert record.sip_code == "503" and record.termination_code == "503"


async def test_a_name_that_does_not_resolve_ends_its_call_503_and_the_worker_goes_on(
    settings: Settings,
) -> None:
    sipp = await Sipp.start("answer_then_hangup.xml", duration_ms=1000)
    with dnsmasq(srv_pair(sipp.port, sipp.port)) as server:
        settings.dns_servers = f"{server[0]}:{server[1]}"
        async with sip_rig(settings) as rig:
            await use_dns_trunk(rig, host="nowhere.test")
            started = time.monotonic()
            [failed] = await run_task(rig, ["8613000000005"])
            elapsed = time.monotonic() - started
            await use_dns_trunk(rig)
            [record] = await run_task(rig, ["8613000000003"])
            far = await finished(sipp)
    assert failed.sip_code == "503" and failed.answer_time is None
    assert elapsed < 10
    assert far.ok, far
    assert record.sip_code == "200"
