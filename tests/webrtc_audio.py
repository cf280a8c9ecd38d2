"""Known audio for the browser agent's tests: seeded band-limited noise each side sends, and
where (and how well) a received stretch matches what the other side sent."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 8000


def noise(seed: int, seconds: float, rate: int = RATE, top_hz: float = 3000.0) -> npt.NDArray:
    """Gaussian noise kept below `top_hz` (what survives G.711 and a browser's resampling),
    peaks at a third of full scale."""
    n = int(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs > top_hz) | (freqs < 150.0)] = 0
    out = np.fft.irfft(spectrum, n)
    return (out / np.max(np.abs(out)) * 11000).astype(np.int16)


def resample(samples: npt.NDArray, rate_in: int, rate_out: int) -> npt.NDArray:
    """By FFT: exact for band-limited audio."""
    n_out = int(len(samples) * rate_out / rate_in)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    out = np.fft.irfft(spectrum, len(samples))
    out = np.fft.irfft(np.fft.rfft(out), n_out) * (n_out / len(samples))
    return np.clip(out, -32768, 32767).astype(np.int16)


def write_wav(path: Path, samples: npt.NDArray, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


def best_match(sent: npt.NDArray, received: npt.NDArray) -> tuple[float, int]:
    """The normalised correlation of `received` with the stretch of `sent` (taken as looping)
    it matches best, and that stretch's offset in samples."""
    r = received.astype(np.float64)
    r = r - r.mean()
    s = sent.astype(np.float64)
    s = np.concatenate([s, s[: len(r)]])  # a looping source wraps round
    # every offset at once, by FFT
    n = 1 << int(np.ceil(np.log2(len(s) + len(r))))
    corr = np.fft.irfft(np.fft.rfft(s, n) * np.conj(np.fft.rfft(r, n)), n)[: len(s) - len(r) + 1]
    # each stretch's sum and energy, from running sums
    n_r = len(r)
    run = np.concatenate([[0.0], np.cumsum(s)])
    run2 = np.concatenate([[0.0], np.cumsum(s * s)])
    sums = run[n_r:] - run[:-n_r]
    energy = run2[n_r:] - run2[:-n_r]
    centred = np.maximum(energy - sums * sums / len(r), 1e-9)
    score = corr / np.sqrt(centred * float(np.dot(r, r)) + 1e-9)
    best = int(np.argmax(score))
    return float(score[best]), best % len(sent)


def window_scores(sent: npt.NDArray, received: npt.NDArray, window: int = 1600) -> list[float]:
    """`best_match` of each 0.2 s of `received`: a lost or late packet under load shifts what
    follows, which one long window would count against the whole, and these only once."""
    return [
        best_match(sent, received[at : at + window])[0]
        for at in range(0, len(received) - window + 1, window)
    ]


def matching_windows(sent: npt.NDArray, received: npt.NDArray) -> int:
    """How many of `received`'s 0.2 s windows are `sent` (correlation above 0.9)."""
    return sum(score > 0.9 for score in window_scores(sent, received))


def loudest_stray(sent: npt.NDArray, received: npt.NDArray) -> float:
    """The best any 0.2 s window of `received` matches `sent` (a sound it should not hold)."""
    return max(window_scores(sent, received))
