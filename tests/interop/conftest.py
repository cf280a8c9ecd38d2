"""Fixture factories for the third-party SIP peers: each test starts the Kamailio proxies and
baresip softphones it needs in its own directory; none outlives the test, whatever happens."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.interop.peers import (
    BARESIP,
    KAMAILIO,
    AgentAccount,
    Baresip,
    Kamailio,
    Peer,
    ProxyAuth,
    Transport,
)

StartKamailio = Callable[..., Awaitable[Kamailio]]
StartBaresip = Callable[..., Awaitable[Baresip]]


@pytest.fixture(autouse=True)
def _needs_peers() -> None:
    for binary, package in ((KAMAILIO, "kamailio"), (BARESIP, "baresip-core")):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: run scripts/setup-system.sh (package {package})")


@pytest.fixture
async def kamailio(tmp_path: Path) -> AsyncIterator[StartKamailio]:
    """`await kamailio(next_hop, next_transport="udp", auth=ProxyAuth() or None)`: a
    record-routing proxy on a free port of 127.0.0.1 (UDP and TCP) forwarding to `next_hop`."""
    started: list[Peer] = []

    async def start(
        next_hop: tuple[str, int],
        *,
        next_transport: Transport = "udp",
        auth: ProxyAuth | None = None,
    ) -> Kamailio:
        proxy = await Kamailio.start(
            tmp_path / f"kamailio{len(started)}",
            next_hop,
            next_transport=next_transport,
            auth=auth,
        )
        started.append(proxy)
        return proxy

    try:
        yield start
    finally:
        for peer in started:
            await peer.close()


@pytest.fixture
async def baresip(tmp_path: Path) -> AsyncIterator[StartBaresip]:
    """`await baresip(agent=AgentAccount(...) or None)`: a softphone on a free port of
    127.0.0.1 answering every call (to the user `callee`) at once, playing a tone (or the WAV
    `source`) and recording what it hears; with `agent` it registers (digest) at that
    registrar; `mediaenc="srtp-mand"` makes its media SRTP (SDES)."""
    started: list[Peer] = []

    async def start(
        agent: AgentAccount | None = None,
        mediaenc: str | None = None,
        source: Path | None = None,
        callee: str = "callee",
    ) -> Baresip:
        work = tmp_path / f"baresip{len(started)}"
        phone = await Baresip.start(work, agent, mediaenc, source, callee)
        started.append(phone)
        return phone

    try:
        yield start
    finally:
        for peer in started:
            await peer.close()
