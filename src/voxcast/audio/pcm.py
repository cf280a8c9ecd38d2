"""The one audio form voxcast plays: 8 kHz, 16-bit signed little-endian, mono PCM; its container
(`DecodedAudio`), WAV in/out, loudness measures and resampling of other rates into it."""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
#: bytes of PCM per second of audio
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
#: window of the loudness measure that decides "silent-only" (20 ms: one RTP packet)
WINDOW_SAMPLES = SAMPLE_RATE // 50
#: a file whose loudest 20 ms window is quieter than this is silent-only (-55 dBFS ≈ 58/32767:
#: above dither and line hiss, far below any recorded voice)
SILENCE_DBFS = -55.0

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True)
class DecodedAudio:
    """Audio in voxcast's playback form, with what it was decoded from."""

    pcm: bytes
    source_format: str = "pcm"
    source_codec: str = "pcm_s16le"
    source_rate: int = SAMPLE_RATE
    source_channels: int = 1
    sample_rate: int = SAMPLE_RATE

    @property
    def samples(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate

    def array(self) -> Samples:
        return np.frombuffer(self.pcm, dtype="<i2")

    def wav_bytes(self) -> bytes:
        return wav_bytes(self.pcm)


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A canonical 44-byte-header WAV around 16-bit mono PCM."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def read_wav(path: Path) -> DecodedAudio:
    """Read a WAV that voxcast wrote (8 kHz 16-bit mono); anything else is refused."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise ValueError(f"{path}: not 8 kHz 16-bit mono")
        return DecodedAudio(w.readframes(w.getnframes()), source_format="wav")


def wav_duration(path: Path) -> float:
    """Length of a WAV file from its header alone."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def dbfs(level: float) -> float:
    """An RMS level in sample units as dB relative to full scale (-inf for zero)."""
    return 20.0 * math.log10(level / 32768.0) if level > 0 else -math.inf


def rms(samples: Samples) -> float:
    if samples.size == 0:
        return 0.0
    wide = samples.astype(np.float64)
    return float(np.sqrt(np.mean(wide * wide)))


def loudest_window_dbfs(samples: Samples, window: int = WINDOW_SAMPLES) -> float:
    """RMS of the loudest `window`-sample stretch, in dBFS: high for a short beep in silence,
    unlike the whole-file RMS."""
    if samples.size == 0:
        return -math.inf
    usable = samples.size - samples.size % window
    wide = samples[:usable].astype(np.float64) if usable else samples.astype(np.float64)
    if usable:
        power = np.mean((wide * wide).reshape(-1, window), axis=1)
        loudest = float(np.sqrt(power.max()))
    else:
        loudest = float(np.sqrt(np.mean(wide * wide)))
    return dbfs(loudest)


class Resampler:
    """Any decoded frame (rate, layout, sample format) → 8 kHz s16 mono, rebuilt when the
    input's shape changes mid-stream (concatenated MP3s of different rates exist)."""

    def __init__(self) -> None:
        self._shape: tuple[str, str, int] | None = None
        self._inner: av.AudioResampler | None = None
        self._out: list[Samples] = []
        self.samples = 0

    def _take(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            data = frame.to_ndarray().reshape(-1).astype("<i2", copy=False)
            self._out.append(data)
            self.samples += data.size

    def feed(self, frame: av.AudioFrame) -> None:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._inner is None or shape != self._shape:
            self.flush()
            self._inner = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            self._shape = shape
        self._take(self._inner.resample(frame))

    def flush(self) -> None:
        if self._inner is not None:
            self._take(self._inner.resample(None))
            self._inner = None

    def pcm(self) -> bytes:
        self.flush()
        if not self._out:
            return b""
        return np.concatenate(self._out).tobytes()


def resample_pcm(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM at `rate` → 8 kHz (what TTS engines hand back at 16 or 22.05 kHz)."""
    if rate == SAMPLE_RATE or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = Resampler()
    resampler.feed(frame)
    return resampler.pcm()
