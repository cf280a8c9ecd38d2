"""Makes real audio files of every accepted format in memory with PyAV's encoders, so tests
decode what a user would upload rather than checked-in fixtures."""

from __future__ import annotations

import base64
import io
from fractions import Fraction

import av
import numpy as np

#: (container, codec, sample rate, channels, encoder options) for each extension under test
FORMATS: dict[str, tuple[str, str, int, int, dict[str, str]]] = {
    "wav": ("wav", "pcm_s16le", 44100, 2, {}),
    "mp3": ("mp3", "libmp3lame", 44100, 2, {}),
    "m4a": ("ipod", "aac", 44100, 2, {}),
    "aac": ("adts", "aac", 22050, 1, {}),
    "ogg": ("ogg", "libopus", 48000, 2, {}),
    "opus": ("ogg", "libopus", 48000, 1, {}),
    "flac": ("flac", "flac", 16000, 1, {}),
    "amr": ("amr", "libopencore_amrnb", 8000, 1, {}),
}


def tone(
    seconds: float, rate: int, channels: int = 1, freq: float = 440.0, level: float = 0.3
) -> np.ndarray:
    """A speech-band test signal: a tone with a slow amplitude wobble, int16 (channels, n)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = level * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    pcm = (wave * 32767).astype(np.int16)
    return np.tile(pcm, (channels, 1))


def encode(ext: str, seconds: float = 2.0, *, silent: bool = False) -> bytes:
    """A real `ext` file of `seconds` of tone (or digital silence)."""
    container_fmt, codec, rate, channels, options = FORMATS[ext]
    samples = tone(seconds, rate, channels)
    if silent:
        samples[:] = 0
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_fmt) as container:
        layout = "stereo" if channels == 2 else "mono"
        stream = container.add_stream(codec, rate=rate, layout=layout)
        stream.options = options
        if codec == "libopencore_amrnb":
            stream.bit_rate = 12200
        step = 1024
        pts = 0
        for start in range(0, samples.shape[1], step):
            chunk = np.ascontiguousarray(samples[:, start : start + step])
            # packed s16: one plane of interleaved channels
            frame = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1), format="s16", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def audio_b64(ext: str = "mp3", seconds: float = 0.5) -> str:
    """A real audio file as the base64 text `fileUpload` takes."""
    return base64.b64encode(encode(ext, seconds)).decode()
