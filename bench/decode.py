"""Upload decoding: minutes of MP3 (44.1 kHz stereo, 128 kb/s) that `voxcast.audio.normalize`
turns into 8 kHz mono per second of CPU, against a bare PyAV decode of the same file (demux +
decode, no resampling, no checks) in one run.

Prints one line: both throughputs and their ratio (voxcast's share of the bare decoder's speed;
1.0 would mean resampling and the checks cost nothing).
"""

from __future__ import annotations

import io
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import av
import numpy as np

from voxcast.audio import normalize

MINUTES = float(os.environ.get("BENCH_DECODE_MINUTES", "5"))
ROUNDS = int(os.environ.get("BENCH_DECODE_ROUNDS", "3"))
RATE = 44100


def make_mp3(minutes: float) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="stereo")
        stream.bit_rate = 128_000
        t = np.arange(RATE) / RATE
        second = (0.3 * np.sin(2 * np.pi * 300 * t) * np.sin(2 * np.pi * 2 * t) * 32767).astype(
            np.int16
        )
        block = np.repeat(second, 2).reshape(1, -1)  # interleaved stereo
        for s in range(int(minutes * 60)):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
            frame.sample_rate = RATE
            frame.pts = s * RATE
            frame.time_base = Fraction(1, RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def bare_decode(data: bytes) -> None:
    with av.open(io.BytesIO(data), format="mp3") as container:
        for _ in container.decode(audio=0):
            pass


def cpu_seconds(fn: object, data: bytes) -> float:
    assert callable(fn)
    started = time.process_time()
    for _ in range(ROUNDS):
        fn(data)
    return (time.process_time() - started) / ROUNDS


def main() -> None:
    data = make_mp3(MINUTES)
    normalize(data, "mp3", max_duration_s=MINUTES * 60 + 5)  # warm up
    ours = cpu_seconds(lambda d: normalize(d, "mp3", max_duration_s=MINUTES * 60 + 5), data)
    bare = cpu_seconds(bare_decode, data)
    ours_rate, bare_rate = MINUTES / ours, MINUTES / bare
    print(
        f"decode: {ours_rate:.1f} min of mp3 normalized per CPU second "
        f"(bare PyAV decode {bare_rate:.1f} min/CPU-s), ratio {ours_rate / bare_rate:.2f} "
        f"({MINUTES:g} min file, {len(data) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
