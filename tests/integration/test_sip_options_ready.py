"""A node's SIP endpoint answers OPTIONS (Kamailio's dispatcher probes) after the node's
readiness: 200 when ready, 503 while it drains or its database does not answer, 200 again
after; over a real UDP socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

from sqlalchemy.ext.asyncio import create_async_engine

from voxcast.services.health import NodeReadiness
from voxcast.telephony.sip.aio.transport import SipEndpoint


def options(branch: str, port: int) -> bytes:
    return (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
        "From: <sip:dispatcher@voxcast.invalid>;tag=probe\r\n"
        f"To: <sip:127.0.0.1:{port}>\r\n"
        f"Call-ID: probe-{branch}\r\n"
        "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def probe(endpoint: SipEndpoint, branch: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        s.sendto(options(branch, s.getsockname()[1]), endpoint.address)
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(s, 4096), 5)
    return data.decode().split("\r\n")[0]


async def test_options_follow_the_nodes_readiness() -> None:
    loop = asyncio.get_running_loop()
    endpoint = await SipEndpoint.open("127.0.0.1", 0, loop.time)
    engine = create_async_engine("sqlite+aiosqlite://")
    node = NodeReadiness(engine)
    try:
        assert await probe(endpoint, "a") == "SIP/2.0 200 OK"  # no readiness: always 200
        endpoint.ready = node.ready
        assert await probe(endpoint, "b") == "SIP/2.0 200 OK"
        node.database_error = "no answer within 2 s"
        assert (await probe(endpoint, "c")).startswith("SIP/2.0 503")
        node.database_error = None
        assert await probe(endpoint, "d") == "SIP/2.0 200 OK"
        node.draining = True
        assert (await probe(endpoint, "e")).startswith("SIP/2.0 503")
        assert node.reason() == "draining"
    finally:
        await endpoint.close()
        await engine.dispose()
