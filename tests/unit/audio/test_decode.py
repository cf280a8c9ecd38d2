"""Upload decoding: every accepted format, and the corrupt, empty, silent, too long, hostile and
unsupported files that must be refused with a typed error (never half-decoded, never a 500)."""

from __future__ import annotations

import io
import random
import struct
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from voxcast.audio import (
    CorruptAudio,
    DecodedAudio,
    EmptyAudio,
    SilentAudio,
    TooLongAudio,
    UnsupportedAudio,
    duration_of,
    normalize,
)
from voxcast.domain.codes import Code

from .audiofiles import FORMATS, encode


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_each_accepted_format_decodes_to_8khz_mono_of_the_right_length(ext: str) -> None:
    audio = normalize(encode(ext, 2.0), ext)
    assert audio.sample_rate == 8000
    assert len(audio.pcm) == audio.samples * 2
    # codec priming/padding may add a few frames; never seconds
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)
    assert audio.source_rate == FORMATS[ext][2]
    assert audio.source_channels == FORMATS[ext][3]


def test_resampled_tone_keeps_its_pitch_and_level() -> None:
    audio = normalize(encode("wav", 1.0), "wav")
    samples = audio.array().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 8000 / samples.size
    assert peak_hz == pytest.approx(440, abs=5)
    # stereo of two equal channels downmixes to the same level, not double
    assert np.abs(samples).max() == pytest.approx(0.3 * 32767, rel=0.1)


def test_uppercase_and_dotted_extensions_are_accepted() -> None:
    assert normalize(encode("mp3", 0.5), ".MP3").duration_s == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(("content", "named"), [("mp3", "wav"), ("wav", "mp3"), ("m4a", "aac")])
def test_a_file_with_the_wrong_extension_is_decoded_by_its_content(
    content: str, named: str
) -> None:
    audio = normalize(encode(content, 1.0), named)
    assert audio.duration_s == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("ext", ["exe", "mid", "txt", "webm", ""])
def test_unsupported_extension_is_rejected_with_minus_22(ext: str) -> None:
    with pytest.raises(UnsupportedAudio) as caught:
        normalize(encode("wav", 0.2), ext)
    assert caught.value.code == Code.PARAMETER


def test_empty_bytes_are_rejected_as_empty_with_minus_21() -> None:
    with pytest.raises(EmptyAudio) as caught:
        normalize(b"", "mp3")
    assert caught.value.code == Code.VALIDATION


def test_wav_with_no_frames_is_rejected_as_empty() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"")
    with pytest.raises(EmptyAudio):
        normalize(out.getvalue(), "wav")


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_silent_only_file_is_rejected_with_minus_21(ext: str) -> None:
    with pytest.raises(SilentAudio) as caught:
        normalize(encode(ext, 1.0, silent=True), ext)
    assert caught.value.code == Code.VALIDATION


def test_a_short_beep_in_silence_is_not_silent() -> None:
    rate = 8000
    samples = np.zeros(rate * 2, dtype=np.int16)
    samples[8000:8400] = (0.2 * 32767 * np.sin(np.arange(400) / 3)).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    assert normalize(out.getvalue(), "wav").duration_s == pytest.approx(2.0)


@pytest.mark.parametrize("ext", sorted(FORMATS))
@pytest.mark.parametrize(
    "junk",
    [
        # seeded, so a run never depends on luck; several seeds cover what urandom would
        *[
            pytest.param(
                lambda seed=seed: random.Random(seed).randbytes(6000), id=f"random-bytes-{seed}"
            )
            for seed in range(4)
        ],
        pytest.param(lambda: b"this is a text file, not audio\n" * 200, id="text"),
        pytest.param(lambda: b"PK\x03\x04" + random.Random(7).randbytes(3000), id="zip"),
    ],
)
def test_bytes_that_are_not_audio_are_rejected_with_minus_21(ext: str, junk: object) -> None:
    assert callable(junk)
    with pytest.raises((CorruptAudio, EmptyAudio)) as caught:
        normalize(junk(), ext)
    assert caught.value.code == Code.VALIDATION


def wav_with_header(fmt_tag: int, bits: int) -> bytes:
    """A one-second 8 kHz mono WAV whose fmt chunk says `fmt_tag` and `bits` per sample while
    its data is 16-bit PCM: a header no decoder exists for."""
    pcm = (0.2 * 32767 * np.sin(np.arange(8000) / 5)).astype("<i2").tobytes()
    block = max(bits // 8, 1)
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, 8000, 8000 * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("fmt_tag", "bits"),
    [(1, 0), (1, 255), (3, 16), (0xFFFE, 16)],
    ids=["pcm-0-bits", "pcm-255-bits", "float-16-bits", "extensible-without-extension"],
)
def test_a_wav_header_no_decoder_exists_for_is_rejected_with_minus_21(
    fmt_tag: int, bits: int
) -> None:
    with pytest.raises(CorruptAudio) as caught:
        normalize(wav_with_header(fmt_tag, bits), "wav")
    assert caught.value.code == Code.VALIDATION
    assert caught.value.detail == "no decoder for the audio stream of the .wav file"


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_a_file_cut_inside_its_header_is_rejected(ext: str) -> None:
    with pytest.raises((CorruptAudio, EmptyAudio)):
        normalize(encode(ext, 2.0)[:30], ext)


@pytest.mark.parametrize("ext", ["wav", "mp3", "flac", "m4a"])
def test_a_file_cut_in_half_is_rejected_where_the_format_records_its_length(ext: str) -> None:
    data = encode(ext, 4.0)
    with pytest.raises(CorruptAudio) as caught:
        normalize(data[: len(data) // 2], ext)
    assert caught.value.code == Code.VALIDATION


@pytest.mark.parametrize("ext", ["aac", "ogg", "amr"])
def test_a_streaming_format_cut_in_half_keeps_what_arrived(ext: str) -> None:
    # ADTS, Ogg and AMR carry no total length: the cut is undetectable, as in any player
    data = encode(ext, 4.0)
    half = normalize(data[: len(data) // 2], ext).duration_s
    assert half > 1.0 and half < 3.0


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_a_file_over_the_limit_is_rejected_with_minus_23(ext: str) -> None:
    with pytest.raises(TooLongAudio) as caught:
        normalize(encode(ext, 3.0), ext, max_duration_s=2.0)
    assert caught.value.code == Code.CAPS
    assert "2 s limit" in caught.value.detail


def _flac_of_silence(minutes: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=8000, layout="mono")
        block = np.zeros((1, 8000 * 60), dtype=np.int16)
        for minute in range(minutes):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = 8000
            frame.pts = minute * 8000 * 60
            frame.time_base = Fraction(1, 8000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def flac_bomb() -> bytes:
    """20 minutes of 8 kHz audio in about 220 KB: a small upload that expands 90 times."""
    return _flac_of_silence(20)


def test_a_small_file_that_claims_a_huge_duration_is_rejected_before_decoding(
    flac_bomb: bytes,
) -> None:
    assert len(flac_bomb) < 500_000
    started = time.perf_counter()
    with pytest.raises(TooLongAudio) as caught:
        normalize(flac_bomb, "flac")
    assert time.perf_counter() - started < 0.05  # the header alone decided
    assert "1200 s" in caught.value.detail
    assert "600 s limit" in caught.value.detail


def test_a_huge_file_that_hides_its_duration_is_stopped_at_the_limit(flac_bomb: bytes) -> None:
    # STREAMINFO's total-samples field set to 0 ("unknown"): only decoding can tell
    data = bytearray(flac_bomb)
    fields = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = fields.to_bytes(8, "big")
    with pytest.raises(TooLongAudio) as caught:
        normalize(bytes(data), "flac", max_duration_s=30)
    assert "decodes to more than the 30 s limit" in caught.value.detail


def test_a_wav_header_claiming_gigabytes_is_rejected_as_too_long() -> None:
    data = bytearray(encode("wav", 0.5))
    offset = data.find(b"data")
    data[offset + 4 : offset + 8] = (0xFFFFFFF0).to_bytes(4, "little")
    with pytest.raises(TooLongAudio):
        normalize(bytes(data), "wav")


def test_audio_error_becomes_an_api_error_naming_the_field() -> None:
    with pytest.raises(SilentAudio) as caught:
        normalize(encode("wav", 0.5, silent=True), "wav")
    err = caught.value.api_error("file")
    assert err.code == Code.VALIDATION
    assert err.reason.startswith("Data validation exception: file: silent only")


def test_duration_of_every_kind_of_source(tmp_path: Path) -> None:
    audio = normalize(encode("mp3", 1.5), "mp3")
    assert duration_of(audio) == audio.duration_s
    assert duration_of(audio.pcm) == audio.duration_s
    assert duration_of(encode("ogg", 1.5), "ogg") == pytest.approx(1.5, abs=0.05)
    wav_path = tmp_path / "p.wav"
    wav_path.write_bytes(audio.wav_bytes())
    assert duration_of(wav_path) == audio.duration_s
    flac_path = tmp_path / "p.flac"
    flac_path.write_bytes(encode("flac", 0.75))
    assert duration_of(flac_path) == pytest.approx(0.75, abs=0.01)


def test_decoded_audio_round_trips_through_its_wav() -> None:
    audio = DecodedAudio(np.arange(-800, 800, dtype="<i2").tobytes())
    again = normalize(audio.wav_bytes(), "wav")
    assert again.pcm == audio.pcm


def test_more_than_8_channels_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(12)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(12 * 2 * 800))
    with pytest.raises(UnsupportedAudio, match="12 channels at 8000 Hz"):
        normalize(out.getvalue(), "wav")
