"""serve's own listening socket (bound before anything starts, handed to uvicorn): the
connections asyncio accepts on it have Nagle off, as on the listeners asyncio makes itself.
Without it every answer waited for the client's delayed ACK (bench/api.py: 450 req/s, p50
44 ms; with it 3,456 req/s, p50 5.5 ms)."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from tests.ports import free_port
from voxcast.cli.main import listening_socket, public_url_for
from voxcast.config import Settings


async def test_connections_accepted_on_serves_socket_have_tcp_nodelay() -> None:
    port = free_port(socket.SOCK_STREAM)
    listener = listening_socket("127.0.0.1", port)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_links_name_the_address_serve_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording links named port 8000 whatever --port said (a browser got connection refused)."""
    seen = []
    for host, port, expected in [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("::", 9001, "http://[::1]:9001"),
        ("10.1.2.3", 80, "http://10.1.2.3:80"),
    ]:
        monkeypatch.delenv("VOXCAST_PUBLIC_URL", raising=False)
        settings = Settings()
        public_url_for(host, port, settings)
        # the worker process serve starts inherits the environment
        seen.append((settings.public_url, os.environ["VOXCAST_PUBLIC_URL"]))
        assert seen[-1] == (expected, expected)
    monkeypatch.setenv("VOXCAST_PUBLIC_URL", "https://voice.example.com")
    settings = Settings()
    public_url_for("0.0.0.0", 8000, settings)
    assert settings.public_url == "https://voice.example.com"
    assert os.environ["VOXCAST_PUBLIC_URL"] == "https://voice.example.com"
