"""RFC 3263 server location without a network: NAPTR filtering, RFC 2782 SRV order and
weights, the fallbacks, and the TTL cache, on crafted answers."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import dns.rrset
import pytest

from voxcast.telephony.sip.aio.dns import ResolveError, Resolver
from voxcast.telephony.sip.core.locate import (
    Naptr,
    Srv,
    Target,
    naptr_choices,
    parse_servers,
    srv_order,
)


def test_naptr_keeps_sip_services_we_support_in_order_then_preference() -> None:
    records = [
        Naptr(20, 10, "s", "SIP+D2U", "_sip._udp.example.com."),
        Naptr(10, 20, "s", "SIPS+D2T", "_sips._tcp.example.com."),
        Naptr(10, 10, "S", "SIP+D2T", "_sip._tcp.example.com."),
        Naptr(5, 10, "s", "SIP+D2S", "_sip._sctp.example.com."),  # SCTP: not ours
        Naptr(5, 10, "u", "SIP+D2U", "!^.*$!sip:x@example.com!"),  # not an SRV pointer
        Naptr(5, 10, "s", "E2U+sip", "_sip._udp.other.com."),  # not a SIP service
    ]
    assert naptr_choices(records, ("udp", "tcp", "tls")) == [
        ("tcp", "_sip._tcp.example.com"),
        ("tls", "_sips._tcp.example.com"),
        ("udp", "_sip._udp.example.com"),
    ]
    assert naptr_choices(records, ("udp",)) == [("udp", "_sip._udp.example.com")]


def test_srv_lowest_priority_first() -> None:
    records = [Srv(20, 0, 5062, "c"), Srv(10, 0, 5060, "a"), Srv(30, 0, 5063, "d")]
    assert [r.target for r in srv_order(records, random.Random(1))] == ["a", "c", "d"]


def test_srv_weights_share_the_first_place_in_proportion() -> None:
    records = [Srv(10, 60, 5060, "heavy"), Srv(10, 20, 5060, "light"), Srv(10, 20, 5060, "x")]
    rng = random.Random(7)
    firsts = Counter(srv_order(records, rng)[0].target for _ in range(3000))
    # 60/20/20 %: with 3000 draws each share is within 3 points of its weight
    assert abs(firsts["heavy"] / 3000 - 0.6) < 0.03
    assert abs(firsts["light"] / 3000 - 0.2) < 0.03
    assert abs(firsts["x"] / 3000 - 0.2) < 0.03


def test_srv_zero_weight_comes_last_while_others_remain() -> None:
    records = [Srv(10, 0, 5060, "zero"), Srv(10, 100, 5060, "weighted")]
    for seed in range(50):
        order = [r.target for r in srv_order(records, random.Random(seed))]
        # randint(0, 100) picks 0 once in 101: the zero-weight record first then
        assert sorted(order) == ["weighted", "zero"]
    firsts = Counter(srv_order(records, random.Random(s))[0].target for s in range(1000))
    assert firsts["weighted"] > 970


def test_a_lone_dot_target_means_no_service() -> None:
    assert srv_order([Srv(0, 0, 0, ".")]) == []
    assert srv_order([Srv(0, 0, 0, "")]) == []


def test_parse_servers() -> None:
    assert parse_servers("127.0.0.1:5353, 10.0.0.1,[::1]:53") == [
        ("127.0.0.1", 5353),
        ("10.0.0.1", 53),
        ("::1", 53),
    ]
    assert parse_servers("") == []
    with pytest.raises(ValueError, match=r"VOXCAST_DNS_SERVERS: 'dns\.example:53'"):
        parse_servers("dns.example:53")


class _Answer:
    def __init__(self, rrset: dns.rrset.RRset | None) -> None:
        self.rrset = rrset


class _Crafted:
    """Stands in for dnspython's resolver: answers from a table, counting the queries."""

    def __init__(self, table: dict[tuple[str, str], tuple[int, list[str]]]) -> None:
        self.table = table
        self.queries: list[tuple[str, str]] = []

    async def resolve(self, name: str, rdtype: str, raise_on_no_answer: bool = True) -> _Answer:
        self.queries.append((name, rdtype))
        found = self.table.get((name, rdtype))
        if found is None:
            return _Answer(None)
        ttl, texts = found
        return _Answer(dns.rrset.from_text(name + ".", ttl, "IN", rdtype, *texts))


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _resolver(table: dict[tuple[str, str], tuple[int, list[str]]]) -> tuple[Resolver, _Crafted]:
    clock = _Clock()
    resolver = Resolver([("127.0.0.1", 53)], now=clock, rng=random.Random(3))
    crafted = _Crafted(table)
    resolver._resolver = crafted  # type: ignore[assignment]
    resolver.clock = clock  # type: ignore[attr-defined]
    return resolver, crafted


CHAIN = {
    ("ex.test", "NAPTR"): (
        300,
        [
            '10 50 "s" "SIP+D2T" "" _sip._tcp.ex.test.',
            '20 50 "s" "SIP+D2U" "" _sip._udp.ex.test.',
        ],
    ),
    ("_sip._tcp.ex.test", "SRV"): (120, ["10 0 5070 b.ex.test.", "5 0 5071 a.ex.test."]),
    ("_sip._udp.ex.test", "SRV"): (600, ["1 0 5072 a.ex.test."]),
    ("a.ex.test", "A"): (60, ["192.0.2.1"]),
    ("a.ex.test", "AAAA"): (60, ["2001:db8::1"]),
    ("b.ex.test", "A"): (90, ["192.0.2.2"]),
}


async def test_naptr_then_srv_then_addresses() -> None:
    resolver, _ = _resolver(CHAIN)
    assert await resolver.resolve("ex.test", None, ("udp", "tcp")) == [
        Target("192.0.2.1", 5071, "tcp"),
        Target("2001:db8::1", 5071, "tcp"),
        Target("192.0.2.2", 5070, "tcp"),
        Target("192.0.2.1", 5072, "udp"),
        Target("2001:db8::1", 5072, "udp"),
    ]
    resolver, _ = _resolver(CHAIN)
    assert await resolver.resolve("ex.test", None, ("udp",)) == [
        Target("192.0.2.1", 5072, "udp"),
        Target("2001:db8::1", 5072, "udp"),
    ]


async def test_answers_are_cached_for_the_smallest_ttl_of_the_chain() -> None:
    resolver, crafted = _resolver(CHAIN)
    first = await resolver.resolve("ex.test", None, ("tcp",))
    asked = len(crafted.queries)
    resolver.clock.t += 59  # type: ignore[attr-defined]
    assert await resolver.resolve("ex.test", None, ("tcp",)) == first
    assert len(crafted.queries) == asked  # served from the cache
    resolver.clock.t += 2  # type: ignore[attr-defined]  # past a.ex.test's 60 s
    assert await resolver.resolve("ex.test", None, ("tcp",)) == first
    assert len(crafted.queries) == 2 * asked


async def test_no_naptr_means_srv_of_each_transport() -> None:
    resolver, crafted = _resolver(
        {
            ("_sip._tcp.ex.test", "SRV"): (60, ["0 0 5080 b.ex.test."]),
            ("b.ex.test", "A"): (60, ["192.0.2.2"]),
        }
    )
    assert await resolver.resolve("ex.test", None, ("udp", "tcp", "tls")) == [
        Target("192.0.2.2", 5080, "tcp")
    ]
    assert [q for q in crafted.queries if q[1] == "SRV"] == [
        ("_sip._udp.ex.test", "SRV"),
        ("_sip._tcp.ex.test", "SRV"),
        ("_sips._tcp.ex.test", "SRV"),
    ]


async def test_no_srv_means_the_hosts_addresses_on_the_default_port() -> None:
    table = {("b.ex.test", "A"): (60, ["192.0.2.2"])}
    resolver, _ = _resolver(table)
    assert await resolver.resolve("b.ex.test", None, ("udp",)) == [Target("192.0.2.2", 5060, "udp")]
    resolver, _ = _resolver(table)
    assert await resolver.resolve("b.ex.test", None, ("tls",)) == [Target("192.0.2.2", 5061, "tls")]


async def test_an_explicit_port_or_an_ip_literal_skips_naptr_and_srv() -> None:
    resolver, crafted = _resolver(CHAIN)
    assert await resolver.resolve("a.ex.test", 5099, ("udp",)) == [
        Target("192.0.2.1", 5099, "udp"),
        Target("2001:db8::1", 5099, "udp"),
    ]
    assert crafted.queries == [("a.ex.test", "A"), ("a.ex.test", "AAAA")]
    assert await resolver.resolve("192.0.2.7", None, ("udp",)) == [Target("192.0.2.7", 5060, "udp")]
    assert await resolver.resolve("[2001:db8::9]", 5070, ("tcp",)) == [
        Target("2001:db8::9", 5070, "tcp")
    ]
    assert len(crafted.queries) == 2


async def test_nothing_at_all_is_an_error() -> None:
    resolver, _ = _resolver({})
    with pytest.raises(ResolveError, match=r"cannot resolve nowhere\.test"):
        await resolver.resolve("nowhere.test", None, ("udp",))


async def test_a_silent_server_is_a_bounded_error() -> None:
    resolver, _ = _resolver({})

    class _Silent:
        async def resolve(self, *args: object, **kwargs: object) -> None:
            await asyncio.sleep(60)

    resolver._resolver = _Silent()  # type: ignore[assignment]
    resolver.timeout = 0.2
    with pytest.raises(ResolveError, match="timed out"):
        await resolver.resolve("slow.test", None, ("udp",))
    assert Resolver().timeout == 3.0
