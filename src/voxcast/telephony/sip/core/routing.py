"""Where a message goes (RFC 3261 §8.1.2, §16.12, §18.2.1-2; RFC 3581), as pure functions:
a request to the first loose Route or else its Request-URI, a response back along the top Via
(its `received`/`rport`), and the source of a received request stamped into that Via."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from voxcast.telephony.sip.core.message import (
    Request,
    Response,
    SipParseError,
    parse_name_addr,
    parse_uri,
    parse_via,
)

Address = tuple[str, int]
SIP_PORT = 5060
SIPS_PORT = 5061


@dataclass(frozen=True)
class Hop:
    """A next hop as written in a URI: a host (name or address), a port, a transport."""

    host: str
    port: int
    transport: str  # "udp", "tcp" or "tls"

    @property
    def is_address(self) -> bool:
        return is_ip(self.host)


@functools.lru_cache(maxsize=1024)
def is_ip(host: str) -> bool:
    """An IPv4 or IPv6 address, not a name (cached: every in-dialog request asks of the same
    few hosts, and `ipaddress` parses them slowly)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hop_of_uri(uri: str) -> Hop:
    """§19.1.2/RFC 3263 §4 without DNS: `maddr` wins over the host; sips means TLS and 5061."""
    parsed = parse_uri(uri)
    if parsed.scheme == "tel":
        raise SipParseError("a tel URI has no host to send to")
    secure = parsed.scheme == "sips"
    transport = (parsed.params.get("transport") or ("tls" if secure else "udp")).lower()
    host = parsed.params.get("maddr") or parsed.host
    port = parsed.port or (SIPS_PORT if secure or transport == "tls" else SIP_PORT)
    return Hop(host, port, transport)


def next_hop(request: Request) -> Hop:
    """§8.1.2: the first Route when it is a loose router (lr), else the Request-URI (a strict
    router already stands in the Request-URI, §12.2.1.1)."""
    routes = request.headers.get_all("Route")
    if routes:
        first = parse_name_addr(routes[0]).uri
        if "lr" in parse_uri(first).params:
            return hop_of_uri(first)
    return hop_of_uri(request.uri)


def stamp_source(request: Request, source: Address) -> None:
    """§18.2.1 and RFC 3581 §4: record in the top Via where the request really came from:
    `received` when the sent-by host differs (or rport was asked for), `rport`'s value when
    the sender asked for it. Responses then find their way back through NAT."""
    vias = request.headers.get_all("Via")
    if not vias:
        return
    try:
        via = parse_via(vias[0])
    except SipParseError:
        return
    params = dict(via.params)
    wants_rport = "rport" in params
    if wants_rport:
        params["rport"] = str(source[1])
    if via.host != source[0] or wants_rport:
        params["received"] = source[0]
    if params == via.params:
        return
    stamped = type(via)(via.transport, via.host, via.port, params)
    request.headers.replace_all("Via", [str(stamped), *vias[1:]])


def response_destination(response: Response) -> Address | None:
    """§18.2.2 (unreliable transports) with RFC 3581: to `received`:`rport` when the request
    asked for rport, else to `received` (or the sent-by host) at the sent-by port. None when
    the top Via names a host by DNS name with no `received` (the caller keeps its peer)."""
    vias = response.headers.get_all("Via")
    if not vias:
        return None
    try:
        via = parse_via(vias[0])
    except SipParseError:
        return None
    host = via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport and rport.isdigit() and 0 < int(rport) < 65536:
        port = int(rport)
    else:
        port = via.port or SIP_PORT
    if not is_ip(host):
        return None
    return host, port
