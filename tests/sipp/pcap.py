"""RTP pcaps for SIPp's `play_pcap_audio`, written from audio: Ethernet, IPv4 and UDP headers
around one 20 ms G.711 packet each, timestamped 20 ms apart (SIPp paces by the timestamps)."""

from __future__ import annotations

import struct
from pathlib import Path

FRAME = 160  # µ-law bytes in 20 ms


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def write_rtp_pcap(
    path: Path,
    ulaw: bytes,
    payload_type: int = 0,
    ssrc: int = 0x5EED,
    missing: frozenset[int] = frozenset(),
) -> Path:
    """`ulaw` (G.711 µ-law, 8 kHz) as RTP packets of 20 ms in a pcap SIPp can play; the frames
    numbered in `missing` are left out (lost: their sequence numbers, timestamps and time
    pass with no packet)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet link
    for n, start in enumerate(range(0, len(ulaw), FRAME)):
        if n in missing:
            continue
        payload = ulaw[start : start + FRAME].ljust(FRAME, b"\xff")
        rtp = struct.pack(
            "!BBHII", 0x80, payload_type | (0x80 if n == 0 else 0), n, n * FRAME, ssrc
        )
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp) + len(payload), 0) + rtp + payload
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        )  # fmt: skip
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        micros = n * 20_000
        out.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        )
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path
