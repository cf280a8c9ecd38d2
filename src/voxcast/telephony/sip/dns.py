"""Locating a SIP server (RFC 3263 §4): NAPTR, then SRV (RFC 2782 order and weights), then
A/AAAA, as an ordered list of targets to try; answers cached by TTL, looked up with
dnspython's asyncio resolver so the event loop never blocks on DNS."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

log = logging.getLogger("voxcast.sip.dns")

#: what one lookup (every query of the chain together) may take
TIMEOUT_S = 3.0
#: NAPTR services (RFC 3263 §4.1) and the transport each one means
NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
#: the SRV name prefix of each transport, when there is no NAPTR (§4.1)
SRV_PREFIXES = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}
SUPPORTED = ("udp", "tcp", "tls")
#: an answer is never kept longer than this, whatever its TTL
MAX_CACHE_S = 3600.0


class ResolveError(OSError):
    """No target at all for a host: it does not resolve, or DNS did not answer in time."""


@dataclass(frozen=True)
class Target:
    """One place to send requests to: an IP address, a port, a transport."""

    address: str
    port: int
    transport: str


@dataclass(frozen=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    replacement: str


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


def default_port(transport: str) -> int:
    return 5061 if transport == "tls" else 5060


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def naptr_choices(records: Iterable[Naptr], transports: Sequence[str]) -> list[tuple[str, str]]:
    """(transport, SRV name) in NAPTR order then preference, keeping only "s" records for SIP
    services over a transport in `transports` (§4.1: the others are not for us)."""
    usable = []
    for record in records:
        transport = NAPTR_SERVICES.get(record.service.upper())
        if transport is None or transport not in transports or record.flags.lower() != "s":
            continue
        usable.append(record)
    usable.sort(key=lambda r: (r.order, r.preference))
    return [(NAPTR_SERVICES[r.service.upper()], r.replacement.rstrip(".")) for r in usable]


def srv_order(records: Iterable[Srv], rng: random.Random | None = None) -> list[Srv]:
    """RFC 2782's order: lowest priority first; within one priority, a weighted random draw
    without replacement (zero-weight records first in the list, so they are rarely chosen
    while others remain). A lone "." target means the service is not offered: no records."""
    draw = rng or random.Random()
    records = list(records)
    if len(records) == 1 and records[0].target.rstrip(".") == "":
        return []
    ordered: list[Srv] = []
    for priority in sorted({r.priority for r in records}):
        group = [r for r in records if r.priority == priority]
        group.sort(key=lambda r: r.weight != 0)  # zero weights first (stable otherwise)
        while group:
            total = sum(r.weight for r in group)
            pick = draw.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= pick:
                    ordered.append(group.pop(index))
                    break
    return ordered


def parse_servers(text: str) -> list[tuple[str, int]]:
    """`host:port,...` (port 53 when omitted; an IPv6 address in brackets) for `Resolver`."""
    servers = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":") or "53"
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
        else:
            host, port = item, "53"
        if not is_ip_literal(host) or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"VOXCAST_DNS_SERVERS: {item!r} is not an address[:port]")
        servers.append((host, int(port)))
    return servers


class _Chain:
    """The lookups of one resolution, and the smallest TTL among their answers."""

    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self._resolver = resolver
        self.ttl = MAX_CACHE_S

    async def query(self, name: str, rdtype: str) -> list[object]:
        try:
            answer = await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.resolver.NoAnswer):
            return []
        if answer.rrset is None:
            return []
        self.ttl = min(self.ttl, float(answer.rrset.ttl))
        return list(answer.rrset)

    async def addresses(self, name: str) -> list[str]:
        found = [str(r) for r in await self.query(name, "A")]
        return found + [str(r) for r in await self.query(name, "AAAA")]


class Resolver:
    """RFC 3263 server location with a TTL cache. `nameservers`: (address, port) pairs to
    ask; None: the system's (/etc/resolv.conf)."""

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]] | None = None,
        *,
        timeout: float = TIMEOUT_S,
        now: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers
            ]
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout
        self.timeout = timeout
        self._now = now
        self._rng = rng or random.Random()
        self._cache: dict[tuple[str, int | None, tuple[str, ...]], tuple[float, list[Target]]] = {}

    def _time(self) -> float:
        return self._now() if self._now is not None else asyncio.get_running_loop().time()

    async def resolve(
        self, host: str, port: int | None = None, transports: Sequence[str] = SUPPORTED
    ) -> list[Target]:
        """The targets for `host` in the order to try them; raises `ResolveError` when there
        is none. An IP literal or an explicit port skips NAPTR and SRV (§4.1, §4.2)."""
        wanted = tuple(t for t in transports if t in SUPPORTED) or ("udp",)
        host = host.rstrip(".")
        if is_ip_literal(host):
            address = host.strip("[]")
            return [Target(address, port or default_port(wanted[0]), wanted[0])]
        key = (host.lower(), port, wanted)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._time():
            return list(cached[1])
        chain = _Chain(self._resolver)
        try:
            targets = await asyncio.wait_for(self._locate(chain, host, port, wanted), self.timeout)
        except (TimeoutError, dns.exception.DNSException) as err:
            raise ResolveError(f"cannot resolve {host}: {str(err) or 'timed out'}") from err
        if not targets:
            raise ResolveError(f"cannot resolve {host}: no NAPTR, SRV, A or AAAA records")
        if chain.ttl > 0:
            self._cache[key] = (self._time() + chain.ttl, targets)
        return list(targets)

    async def _locate(
        self, chain: _Chain, host: str, port: int | None, wanted: tuple[str, ...]
    ) -> list[Target]:
        if port is not None:
            return [Target(a, port, wanted[0]) for a in await chain.addresses(host)]
        naptrs = [
            Naptr(r.order, r.preference, r.flags.decode(), r.service.decode(), str(r.replacement))  # type: ignore[attr-defined]
            for r in await chain.query(host, "NAPTR")
        ]
        services = naptr_choices(naptrs, wanted)
        if not naptrs or not services:
            # §4.1: no (usable) NAPTR: SRV for each transport we would use, in our order
            services = [(t, f"{SRV_PREFIXES[t]}.{host}") for t in wanted]
        targets: list[Target] = []
        for transport, name in services:
            records = [
                Srv(r.priority, r.weight, r.port, str(r.target).rstrip("."))  # type: ignore[attr-defined]
                for r in await chain.query(name, "SRV")
            ]
            for srv in srv_order(records, self._rng):
                if not srv.target:
                    continue
                for address in await chain.addresses(srv.target):
                    targets.append(Target(address, srv.port, transport))
        if targets:
            return targets
        # §4.2: no SRV records: the host's own addresses on the transport's default port
        transport = wanted[0]
        return [Target(a, default_port(transport), transport) for a in await chain.addresses(host)]
