"""Recordings as the database keeps them (services/recordings.py): G.711 mu-law, deflated, and
back to the same 8 kHz 16-bit WAV, mono or stereo; files of another format are refused."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from voxcast.audio import g711
from voxcast.audio.pcm import wav_bytes
from voxcast.audio.recording import stereo_wav
from voxcast.services import recordings


def _tone(seconds: float, hz: float, level: int) -> bytes:
    t = np.arange(round(seconds * 8000)) / 8000
    return (np.sin(2 * np.pi * hz * t) * level).astype("<i2").tobytes()


def _frames(wav: bytes) -> tuple[int, int, bytes]:
    with wave.open(io.BytesIO(wav)) as w:
        return w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())


def test_a_stereo_recording_comes_back_as_the_call_carried_it(tmp_path: Path) -> None:
    # what a call carries is G.711 already: such samples come back exactly
    left = g711.ulaw_decode(g711.ulaw_encode(_tone(2.0, 600, 8000)))
    right = g711.ulaw_decode(g711.ulaw_encode(_tone(1.5, 1000, 3000) + bytes(8000)))
    original = stereo_wav(left, right)
    path = tmp_path / "00112233aabbccdd-full.wav"
    path.write_bytes(original)
    packed = recordings.pack(path)
    assert (packed.name, packed.channels) == (path.name, 2)
    assert len(packed.audio) * 2 <= len(original)
    assert recordings.unpack(packed.channels, packed.audio) == original


def test_other_samples_come_back_within_mu_law_steps_and_silence_packs_away(
    tmp_path: Path,
) -> None:
    pcm = _tone(1.0, 440, 12000) + bytes(2 * 8000 * 9)  # a second of tone, nine of silence
    path = tmp_path / "00112233aabbccdd-customer.wav"
    path.write_bytes(wav_bytes(pcm))
    packed = recordings.pack(path)
    channels, rate, frames = _frames(recordings.unpack(packed.channels, packed.audio))
    assert (channels, rate, len(frames)) == (1, 8000, len(pcm))
    got = np.frombuffer(frames, dtype="<i2").astype(np.int32)
    want = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    # mu-law's step is at most 1/16 of the value (plus the smallest step near zero)
    assert int(np.max(np.abs(got - want) - np.abs(want) // 16)) <= 8
    assert len(packed.audio) * 10 < len(pcm) // 2  # ten seconds, mostly silent


def test_a_file_of_another_rate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "00112233aabbccdd-customer.wav"
    path.write_bytes(wav_bytes(_tone(0.5, 440, 1000), rate=16000))
    with pytest.raises(ValueError, match="not an 8 kHz 16-bit recording"):
        recordings.pack(path)
