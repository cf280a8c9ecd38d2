"""Callee audio for the hearing tests: speech (espeak-ng, or the default neural voice for the
recognizer) through the telephone chain (8 kHz, 300-3400 Hz, G.711 µ-law and back), silence
and line noise, cut into 20 ms frames."""

from __future__ import annotations

import functools

import numpy as np

from tests.listen import band_pass, phone_line
from voxcast.audio import choose_voice, g711, speak
from voxcast.audio.hearing import FRAME_MS, VoiceDetector, frames
from voxcast.audio.tts import espeak_command

RATE = 8000


@functools.lru_cache(maxsize=64)
def said(text: str, wpm: int = 175) -> bytes:
    """`text` spoken by espeak-ng (en-us) as a handset hears it: 8 kHz 16-bit PCM."""
    speech = espeak_command(text, "en-us", wpm)
    return phone_line(speech.pcm, speech.sample_rate)


@functools.lru_cache(maxsize=64)
def voiced(text: str) -> bytes:
    """`text` in voxcast's default US English voice (piper's joe, as installed by `make
    install`), on a phone line with 200 ms of silence either side: what a recognizer gets of a
    person's words (espeak's robot voice is too far from any person for tiny.en)."""
    voice = choose_voice("EN", None, 1)
    return silence(200) + phone_line(speak(text, voice)) + silence(200)


def silence(ms: int) -> bytes:
    """Digital silence through µ-law (the zero code)."""
    return g711.ulaw_decode(b"\xff" * (RATE * ms // 1000))


def noise(ms: int, dbfs: float = -30.0, seed: int = 7) -> bytes:
    """Band-limited white noise at `dbfs` RMS through µ-law: a hissing line."""
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal(RATE * ms // 1000) * 32768 * 10 ** (dbfs / 20)
    pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    return g711.ulaw_decode(g711.ulaw_encode(band_pass(pcm)))


def ulaw(pcm: bytes) -> bytes:
    return g711.ulaw_encode(pcm)


def flags(vad: VoiceDetector, pcm: bytes) -> list[bool]:
    """The detector's word on each 20 ms frame of `pcm`."""
    return [vad.speech(frame) for frame in frames(pcm)]


def speech_ms(vad: VoiceDetector, pcm: bytes) -> int:
    return sum(flags(vad, pcm)) * FRAME_MS
