"""Playout (20 ms packets: sequence, timestamp, SSRC, marker) and Reception (strangers,
malformed packets, RFC 4733 keys once, recording)."""

from __future__ import annotations

from voxcast.telephony.rtp.dtmf import encode
from voxcast.telephony.rtp.packet import RtpPacket, parse
from voxcast.telephony.rtp.stream import FRAME_SAMPLES, PCMA, PCMU, Playout, Reception

FAR = ("127.0.0.1", 6000)


def drain(playout: Playout) -> list[RtpPacket]:
    packets = []
    while (data := playout.next_frame()) is not None:
        packets.append(parse(data))
    return packets


def test_audio_is_cut_into_20ms_frames_with_consecutive_numbers() -> None:
    playout = Playout(PCMU, ssrc=0x1234, first_sequence=65534, first_ts=2**32 - 160)
    playout.play(b"\x01" * (FRAME_SAMPLES * 3 + 10), loops=2)  # a partial last frame
    packets = drain(playout)
    assert len(packets) == 8  # 4 frames (the tail padded to a whole one), twice
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2, 3, 4, 5]
    assert [p.timestamp for p in packets[:3]] == [2**32 - 160, 0, 160]
    assert {p.ssrc for p in packets} == {0x1234}
    assert all(len(p.payload) == 160 for p in packets)  # 20 ms at 8 kHz, one byte a sample
    assert packets[3].payload == b"\x01" * 10 + b"\xff" * 150  # µ-law silence pads
    assert [p.marker for p in packets] == [True] + [False] * 7
    assert playout.frames_sent == 8 and not playout.playing


def test_a_new_talkspurt_sets_the_marker_and_keeps_counting() -> None:
    playout = Playout(PCMA, ssrc=7, first_sequence=10, first_ts=0)
    playout.play(b"\x00" * FRAME_SAMPLES)
    first = drain(playout)  # its last call was one silent tick
    assert playout.next_frame() is None  # another: nothing sent, time goes on
    playout.play(b"\x00" * FRAME_SAMPLES)
    second = drain(playout)
    assert first[0].marker and second[0].marker
    assert second[0].sequence == first[-1].sequence + 1
    assert second[0].timestamp == first[-1].timestamp + 3 * FRAME_SAMPLES
    assert second[0].payload_type == PCMA


def test_stop_ends_playing_at_once() -> None:
    playout = Playout(PCMU, 1, 1, 1)
    playout.play(b"\x00" * FRAME_SAMPLES * 10)
    assert playout.next_frame() is not None
    playout.stop()
    assert playout.next_frame() is None and not playout.playing


def test_empty_audio_plays_nothing() -> None:
    playout = Playout(PCMU, 1, 1, 1)
    playout.play(b"", loops=3)
    assert not playout.playing and playout.next_frame() is None


def dtmf(key: str, ts: int, *, end: bool, seq: int) -> bytes:
    return RtpPacket(101, seq, ts, 99, encode(key, end=end, duration=800)).pack()


def test_keys_are_counted_once_despite_redundant_end_packets() -> None:
    rx = Reception(FAR, PCMU, 101)
    keys = [
        rx.feed(dtmf("1", 1000, end=False, seq=1), FAR),
        rx.feed(dtmf("1", 1000, end=True, seq=2), FAR),
        rx.feed(dtmf("1", 1000, end=True, seq=3), FAR),
        rx.feed(dtmf("1", 1000, end=True, seq=4), FAR),
        rx.feed(dtmf("#", 5000, end=True, seq=5), FAR),
    ]
    assert [k for k in keys if k] == ["1", "#"]
    assert rx.received == 5


def audio(seq: int, ssrc: int = 5) -> bytes:
    return RtpPacket(PCMU, seq, seq * 160, ssrc, b"\xff" * FRAME_SAMPLES).pack()


def test_packets_from_the_sdp_address_latch_at_once() -> None:
    rx = Reception(FAR, PCMU, 101)
    assert rx.feed(dtmf("1", 1000, end=True, seq=1), FAR) == "1"
    assert rx.latched == FAR and rx.strangers == 0
    # once latched, another source is a stranger, even from the same host
    rx.feed(audio(2), ("127.0.0.1", 7000))
    assert rx.strangers == 1 and rx.received == 1


def test_media_behind_nat_latches_onto_its_real_source() -> None:
    # RFC 4961: the SDP says 10.0.0.5:4000 (a private address), the packets come from the NAT
    rx = Reception(("10.0.0.5", 4000), PCMU, 101)
    nat = ("127.0.0.9", 31000)
    assert [rx.feed(audio(seq), nat) for seq in range(5)] == [None] * 5
    assert rx.latched == nat
    assert (rx.received, rx.strangers) == (3, 2)  # the first two only made it a candidate
    rx.feed(audio(6), ("127.0.0.8", 31000))
    assert rx.strangers == 3 and rx.latched == nat


def test_one_stray_packet_does_not_steal_the_stream() -> None:
    rx = Reception(("10.0.0.5", 4000), PCMU, 101)
    nat, stray = ("127.0.0.9", 31000), ("127.0.0.66", 9)
    rx.feed(audio(1), nat)
    rx.feed(audio(2), nat)
    rx.feed(audio(99, ssrc=666), stray)  # breaks the run: the count starts again
    rx.feed(audio(3), nat)
    assert rx.latched is None
    rx.feed(audio(4), nat)
    rx.feed(audio(5), nat)
    assert rx.latched == nat


def test_a_moved_far_end_is_latched_anew() -> None:
    rx = Reception(FAR, PCMU, 101)
    rx.feed(audio(1), FAR)
    rx.expect(("127.0.0.3", 8000))
    assert rx.latched is None
    rx.feed(audio(2), ("127.0.0.3", 8000))
    assert rx.latched == ("127.0.0.3", 8000)


def test_malformed_packets_are_counted_never_raised() -> None:
    rx = Reception(FAR, PCMU, 101)
    for junk in (b"", b"\x00" * 5, b"\x40" + b"\x00" * 20, b"\x80\x65" + b"\x00" * 11):
        assert rx.feed(junk, FAR) is None
    assert rx.malformed == 4 and rx.strangers == 0


def test_recording_keeps_the_far_ends_audio_up_to_its_limit() -> None:
    rx = Reception(FAR, PCMU, 101, record=True, max_bytes=FRAME_SAMPLES * 2)
    for seq in range(3):
        rx.feed(RtpPacket(PCMU, seq, seq * 160, 5, bytes([seq]) * FRAME_SAMPLES).pack(), FAR)
    rx.feed(dtmf("1", 1000, end=True, seq=9), FAR)  # events are not audio
    assert rx.audio == b"\x00" * FRAME_SAMPLES + b"\x01" * FRAME_SAMPLES


def test_after_a_hold_the_audio_goes_on_as_a_new_talkspurt_later_in_time() -> None:
    playout = Playout(PCMU, ssrc=1, first_sequence=10, first_ts=0)
    playout.play(b"\x01" * FRAME_SAMPLES * 4)
    first = [parse(playout.next_frame() or b"") for _ in range(2)]
    playout.skip(1.0)  # held a second: nothing was sent
    rest = drain(playout)
    assert [p.sequence for p in first + rest] == [10, 11, 12, 13]  # no gap in sequence
    assert [p.timestamp for p in rest] == [320 + 8000, 480 + 8000]  # time moved on
    assert [p.marker for p in first + rest] == [True, False, True, False]
    assert len(rest) == 2  # the audio resumed where it stopped, none of it lost


def test_the_listener_gets_the_audio_of_the_accepted_source_and_nothing_else() -> None:
    heard: list[bytes] = []
    rx = Reception(FAR, PCMU, 101, on_audio=heard.append)
    rx.feed(RtpPacket(PCMU, 1, 160, 5, b"\x01" * FRAME_SAMPLES).pack(), FAR)
    rx.feed(dtmf("1", 1000, end=True, seq=2), FAR)  # a key is no audio
    rx.feed(RtpPacket(PCMA, 3, 480, 5, b"\x02" * FRAME_SAMPLES).pack(), FAR)  # nor another codec
    rx.feed(RtpPacket(PCMU, 4, 640, 9, b"\x03" * FRAME_SAMPLES).pack(), ("127.0.0.1", 7000))
    rx.feed(RtpPacket(PCMU, 5, 800, 5, b"\x04" * 80).pack(), FAR)  # a 10 ms packet as it is
    assert heard == [b"\x01" * FRAME_SAMPLES, b"\x04" * 80]
    assert rx.audio == b""  # hearing is not recording


def test_our_own_packets_echoed_back_are_recorded_but_not_heard() -> None:
    heard: list[bytes] = []
    rx = Reception(FAR, PCMU, 101, record=True, on_audio=heard.append, own_ssrc=77)
    rx.feed(RtpPacket(PCMU, 1, 160, 5, b"\x01" * FRAME_SAMPLES).pack(), FAR)
    rx.feed(RtpPacket(PCMU, 900, 9000, 77, b"\x2a" * FRAME_SAMPLES).pack(), FAR)  # our echo
    rx.feed(RtpPacket(PCMU, 2, 320, 5, b"\x02" * FRAME_SAMPLES).pack(), FAR)
    # the callee's voice is heard in order, as if our echo were not there (an RFC 3550 §8.2
    # loop); the recording keeps what came, the echo included
    assert heard == [b"\x01" * FRAME_SAMPLES, b"\x02" * FRAME_SAMPLES]
    assert rx.audio == b"".join(bytes([b]) * FRAME_SAMPLES for b in (1, 0x2A, 2))
