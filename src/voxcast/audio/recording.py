"""Call recordings as WAV files: each side's audio laid on a timeline from the answer, and the
two files a recorded call leaves (both sides in stereo, the callee's alone in mono)."""

from __future__ import annotations

import io
import os
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from voxcast.audio.pcm import SAMPLE_RATE, wav_bytes

#: the file names of one recording: `<id>-full.wav` (stereo) and `<id>-customer.wav`
FULL, CUSTOMER = "-full.wav", "-customer.wav"


def timeline(seconds: float, pieces: Iterable[tuple[float, bytes]]) -> bytes:
    """`seconds` of 8 kHz 16-bit mono PCM, silent but for each piece (start second, PCM)
    placed at its start; what runs past the end is cut, overlaps add (clipped)."""
    total = max(0, round(seconds * SAMPLE_RATE))
    out = np.zeros(total, dtype=np.int32)
    for start, pcm in pieces:
        first = max(0, round(start * SAMPLE_RATE))
        if first >= total or not pcm:
            continue
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")[: total - first]
        out[first : first + len(samples)] += samples
    return bytes(np.clip(out, -32768, 32767).astype("<i2").tobytes())


def stereo_wav(left: bytes, right: bytes) -> bytes:
    """A 16-bit stereo WAV of two mono PCM tracks (the shorter padded with silence)."""
    a = np.frombuffer(left[: len(left) // 2 * 2], dtype="<i2")
    b = np.frombuffer(right[: len(right) // 2 * 2], dtype="<i2")
    frames = np.zeros((max(len(a), len(b)), 2), dtype="<i2")
    frames[: len(a), 0] = a
    frames[: len(b), 1] = b
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(frames.tobytes())
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder/name` atomically (the file is served as soon as it exists)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def save(folder: Path, call_id: str, sent: bytes | None, heard: bytes) -> tuple[Path | None, Path]:
    """A recorded call's files: with `sent` (our side, aligned with `heard`) the stereo one,
    and the callee's alone; PCM in, paths out."""
    full = write(folder, call_id + FULL, stereo_wav(sent, heard)) if sent is not None else None
    return full, write(folder, call_id + CUSTOMER, wav_bytes(heard))
