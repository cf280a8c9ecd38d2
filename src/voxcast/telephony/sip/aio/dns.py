"""Locating a SIP server (RFC 3263 §4) over the network: NAPTR, then SRV, then A/AAAA, looked
up with dnspython's asyncio resolver so the event loop never blocks on DNS, answers cached by
TTL; the selection rules are pure, in `core.locate`."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from voxcast.telephony.sip.core.locate import (
    MAX_CACHE_S,
    SRV_PREFIXES,
    SUPPORTED,
    TIMEOUT_S,
    Naptr,
    Srv,
    Target,
    default_port,
    is_ip_literal,
    naptr_choices,
    srv_order,
)

__all__ = ["ResolveError", "Resolver", "Target"]

log = logging.getLogger("voxcast.sip.dns")


class ResolveError(OSError):
    """No target at all for a host: it does not resolve, or DNS did not answer in time."""


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
