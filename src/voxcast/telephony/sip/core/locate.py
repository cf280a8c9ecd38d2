"""Locating a SIP server (RFC 3263 §4) as pure rules: which NAPTR records are ours, the RFC 2782
order of SRV records, the default ports. `aio.dns.Resolver` asks DNS and applies them."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: what one lookup (every query of the chain together) may take
TIMEOUT_S = 3.0
#: NAPTR services (RFC 3263 §4.1) and the transport each one means
NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
#: the SRV name prefix of each transport, when there is no NAPTR (§4.1)
SRV_PREFIXES = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}
SUPPORTED = ("udp", "tcp", "tls")
#: an answer is never kept longer than this, whatever its TTL
MAX_CACHE_S = 3600.0


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
