"""One call's media as sans-IO state: `Playout` cuts G.711 audio into 20 ms RTP packets with
correct sequence, timestamp, SSRC and marker; `Reception` checks who sent a packet, counts it,
decodes RFC 4733 keys and hands the far end's audio on (hearing, recording). Bytes in, bytes
out."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from voxcast.telephony.rtp.dtmf import DtmfReceiver
from voxcast.telephony.rtp.packet import HEADER, RtpError, parse

FRAME_SAMPLES = 160  # 20 ms at 8 kHz, one byte per sample in G.711
#: the sequence number, timestamp and SSRC of an RTP header (bytes 2-11)
HEADER_NUMBERS = struct.Struct("!HII")
FRAME_SECONDS = 0.02
PCMU, PCMA = 0, 8
SILENCE = {PCMU: b"\xff", PCMA: b"\xd5"}  # the zero sample of each law


class Playout:
    """The outgoing stream of one call. `play()` queues audio (played `loops` times, back to
    back); `next_frame()` is called every 20 ms by the pacer and returns the packet to send,
    or None when there is nothing to play (no packets while silent, like VAD)."""

    def __init__(self, payload_type: int, ssrc: int, first_sequence: int, first_ts: int) -> None:
        self.payload_type = payload_type
        # the sequencer's state kept inline: this runs 50 times a second for every call
        self._ssrc = ssrc & 0xFFFFFFFF
        self._sequence = first_sequence & 0xFFFF
        self._timestamp = first_ts & 0xFFFFFFFF
        self._audio = b""
        self._pos = 0
        self._loops_left = 0
        self._talkspurt = True
        self.frames_sent = 0
        self.frames_dropped = 0
        # relaying a bridged stream: its SSRC, and what maps its numbering onto ours
        self._relaying: int | None = None
        self._sequence_shift = 0
        self._timestamp_shift = 0

    @property
    def playing(self) -> bool:
        return self._loops_left > 0

    @property
    def ssrc(self) -> int:
        return self._ssrc

    @property
    def sequence(self) -> int:
        """The sequence number of the next packet."""
        return self._sequence

    @property
    def timestamp(self) -> int:
        """The RTP timestamp of the next frame, sent or not."""
        return self._timestamp

    def relay(self, packet: bytes) -> bytes:
        """`packet`, relayed from the bridged stream, as a packet of this one: our SSRC, and
        sequence numbers and timestamps going on from what we sent before (hold tone,
        ringback), the first relayed packet opening a talkspurt. The receiver sees one stream
        whose SSRC never changes: baresip 1.0.0 drops every packet after an SSRC change whose
        sequence numbers are lower than the old stream's (its jitter buffer is not reset)."""
        sequence = int.from_bytes(packet[2:4], "big")
        timestamp = int.from_bytes(packet[4:8], "big")
        ssrc = int.from_bytes(packet[8:12], "big")
        second = packet[1]
        if ssrc != self._relaying:
            self._relaying = ssrc
            self._sequence_shift = (self._sequence - sequence) & 0xFFFF
            self._timestamp_shift = (self._timestamp - timestamp) & 0xFFFFFFFF
            second |= 0x80
        sequence = (sequence + self._sequence_shift) & 0xFFFF
        timestamp = (timestamp + self._timestamp_shift) & 0xFFFFFFFF
        # our own frames, should any follow, go on after the relayed ones
        self._sequence = (sequence + 1) & 0xFFFF
        self._timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        return (
            packet[:1]
            + bytes((second,))
            + HEADER_NUMBERS.pack(sequence, timestamp, self._ssrc)
            + packet[12:]
        )

    def play(self, audio: bytes, loops: int = 1) -> None:
        """Start playing `audio` (G.711 bytes in this stream's law) `loops` times."""
        # pad the tail to a whole frame so every packet carries 20 ms
        tail = len(audio) % FRAME_SAMPLES
        if tail:
            audio += SILENCE[self.payload_type] * (FRAME_SAMPLES - tail)
        self._audio, self._pos = audio, 0
        self._loops_left = loops if audio else 0
        self._talkspurt = True

    def stop(self) -> None:
        self._loops_left = 0

    def skip(self, seconds: float) -> None:
        """Time passed with nothing sent (on hold): the timestamp moves on, and the next
        packet opens a talkspurt."""
        samples = int(seconds * 8000) // FRAME_SAMPLES * FRAME_SAMPLES
        self._timestamp = (self._timestamp + samples) & 0xFFFFFFFF
        self._talkspurt = True

    def drop(self, frames: int) -> int:
        """`frames` frames whose time has passed unsent (the pacer fell too far behind to
        catch up): their audio is lost and their time with it, so the timestamp moves on past
        them and the next packet opens a talkspurt, while sequence numbers go on unbroken (the
        far end sees a silence, not a loss). Returns how many frames of audio were lost."""
        if frames <= 0:
            return 0
        self._timestamp = (self._timestamp + frames * FRAME_SAMPLES) & 0xFFFFFFFF
        if self._loops_left <= 0:
            return 0  # silent already: nothing of the audio is lost
        per_loop = len(self._audio) // FRAME_SAMPLES
        done = self._pos // FRAME_SAMPLES + frames
        remaining = per_loop * self._loops_left - self._pos // FRAME_SAMPLES
        lost = min(frames, remaining)
        self._loops_left -= done // per_loop
        self._pos = (done % per_loop) * FRAME_SAMPLES if self._loops_left > 0 else 0
        self._loops_left = max(0, self._loops_left)
        self._talkspurt = True
        self.frames_dropped += lost
        return lost

    def next_frame(self) -> bytes | None:
        if self._loops_left <= 0:
            self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
            return None  # time goes on while silent: the next talkspurt's timestamp jumps
        pos = self._pos
        payload = self._audio[pos : pos + FRAME_SAMPLES]
        pos += FRAME_SAMPLES
        if pos >= len(self._audio):
            pos = 0
            self._loops_left -= 1
        self._pos = pos
        second = self.payload_type & 0x7F
        if self._talkspurt:  # RFC 3551 §4.1: the marker opens each talkspurt
            second |= 0x80
            self._talkspurt = False
        sequence, timestamp = self._sequence, self._timestamp
        self._sequence = (sequence + 1) & 0xFFFF
        self._timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self.frames_sent += 1
        # one struct call and one concatenation: the cheapest way to a packet in CPython
        return HEADER.pack(0x80, second, sequence, timestamp, self._ssrc) + payload


#: valid RTP packets from one source that latch our sending onto it (RFC 4961 symmetric RTP)
LATCH_PACKETS = 3


@dataclass
class Reception:
    """The incoming stream of one call. The far end's SDP says where it is, but behind NAT its
    packets come from elsewhere: we latch onto the source of the first valid RTP packets
    (`LATCH_PACKETS` in a row from one address, or any packet from the SDP's address) and
    from then on accept only that source and send there; a stranger's packets are counted and
    dropped. With `record`, audio payloads are kept in memory (up to `max_bytes`: a capture
    for tests and tools; a call's recording goes to disk as it comes, `on_record`);
    `on_audio` is given each audio payload as it is accepted (a robot's ears)."""

    expected: tuple[str, int]
    codec: int
    dtmf_payload: int | None
    record: bool = False
    max_bytes: int = 8000 * 3600
    received: int = 0
    strangers: int = 0
    malformed: int = 0
    source: tuple[str, int] | None = None
    latched: tuple[str, int] | None = None
    _audio: bytearray = field(default_factory=bytearray)
    _dtmf: DtmfReceiver | None = None
    _candidate: tuple[tuple[str, int], int, int] | None = None  # (source, ssrc, packets)
    on_audio: Callable[[bytes], None] | None = None
    #: answering-machine detection's ear, given each audio payload too (`MediaStream`)
    on_machine: Callable[[bytes], None] | None = None
    #: the call's recording: (SSRC, RTP timestamp, payload) of each audio packet accepted,
    #: our own echoed ones too (`MediaStream.record`)
    on_record: Callable[[int, int, bytes], None] | None = None
    #: the SSRC we send with: a packet of ours coming back (a far end that echoes, a media
    #: loop; RFC 3550 §8.2) is not the callee speaking, and `on_audio` is not given it
    own_ssrc: int | None = None

    def __post_init__(self) -> None:
        if self.dtmf_payload is not None:
            self._dtmf = DtmfReceiver(self.dtmf_payload)

    def expect(self, address: tuple[str, int]) -> None:
        """The far end moved (a re-INVITE with a new address): latch again."""
        if address != self.expected:
            self.expected = address
            self.latched = None
            self._candidate = None

    def feed(self, data: bytes, source: tuple[str, int]) -> str | None:
        """One datagram; returns a DTMF key when this packet completes one."""
        try:
            packet = parse(data)
        except RtpError:
            self.malformed += 1
            return None
        if not self._accept(source, packet.ssrc):
            self.strangers += 1
            return None
        self.received += 1
        self.source = source
        if self._dtmf is not None and packet.payload_type == self._dtmf.payload_type:
            try:
                return self._dtmf.feed(packet)
            except RtpError:
                self.malformed += 1
                return None
        if packet.payload_type == self.codec:
            if self.record and len(self._audio) < self.max_bytes:
                self._audio += packet.payload
            if self.on_audio is not None and packet.ssrc != self.own_ssrc:
                self.on_audio(packet.payload)
            if self.on_machine is not None:
                self.on_machine(packet.payload)
            if self.on_record is not None:
                self.on_record(packet.ssrc, packet.timestamp, packet.payload)
        return None

    def _accept(self, source: tuple[str, int], ssrc: int) -> bool:
        if self.latched is not None:
            return source == self.latched
        if source == self.expected:
            self.latched = source
            return True
        # one stray packet (a scanner, another call's late RTCP) must not steal the call:
        # a source is believed after a few valid packets of one SSRC in a row
        candidate = self._candidate
        if candidate is not None and candidate[0] == source and candidate[1] == ssrc:
            count = candidate[2] + 1
        else:
            count = 1
        if count >= LATCH_PACKETS:
            self.latched = source
            self._candidate = None
            return True
        self._candidate = (source, ssrc, count)
        return False

    @property
    def audio(self) -> bytes:
        """The far end's audio so far, G.711 in `codec`'s law, in arrival order."""
        return bytes(self._audio)
