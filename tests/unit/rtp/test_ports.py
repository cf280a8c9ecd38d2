"""RTP ports (RFC 3550 §11): every stream the media engine opens is on an even port, whether
the kernel picks it or a configured range gives it, and no two streams share one."""

from __future__ import annotations

import socket

from voxcast.telephony.rtp.media import MediaEngine


async def test_kernel_picked_ports_are_even_and_distinct() -> None:
    engine = MediaEngine("127.0.0.1")
    streams = [await engine.open_stream() for _ in range(60)]
    try:
        ports = [stream.port for stream in streams]
        assert [port % 2 for port in ports] == [0] * 60
        assert len(set(ports)) == 60
        assert engine.open_streams == 60
    finally:
        for stream in streams:
            stream.close()
        await engine.close()


async def test_a_range_skips_a_taken_even_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        low = probe.getsockname()[1] & ~1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", low))
        engine = MediaEngine("127.0.0.1", port_range=(low, low + 8))
        stream = await engine.open_stream()
        try:
            assert stream.port == low + 2
        finally:
            stream.close()
            await engine.close()
