"""G.711 µ-law/A-law: bit-exact with the reference, and speech survives the round trip."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from voxcast.audio import choose_voice, g711, speak


def snr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = ref - degraded.astype(np.float64)
    return float(10 * np.log10(np.sum(ref * ref) / np.sum(noise * noise)))


#: SHA-256 of CPython's audioop output (lin2ulaw, lin2alaw over every 16-bit sample; ulaw2lin,
#: alaw2lin over every code), taken once so the test needs no audioop (gone in Python 3.13)
AUDIOOP_DIGESTS = {
    "ulaw_encode": "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a",
    "alaw_encode": "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b",
    "ulaw_decode": "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827",
    "alaw_decode": "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174",
}


def test_codecs_match_the_reference_implementation_bit_for_bit() -> None:
    every = np.arange(-32768, 32768, dtype="<i2").tobytes()
    codes = bytes(range(256))
    got = {
        "ulaw_encode": g711.ulaw_encode(every),
        "alaw_encode": g711.alaw_encode(every),
        "ulaw_decode": g711.ulaw_decode(codes),
        "alaw_decode": g711.alaw_decode(codes),
    }
    assert {k: hashlib.sha256(v).hexdigest() for k, v in got.items()} == AUDIOOP_DIGESTS


def test_one_byte_per_sample_and_silence_stays_silent() -> None:
    silence = bytes(1600)
    assert len(g711.ulaw_encode(silence)) == 800
    assert set(np.frombuffer(g711.ulaw_decode(g711.ulaw_encode(silence)), "<i2")) == {0}
    assert np.abs(np.frombuffer(g711.alaw_decode(g711.alaw_encode(silence)), "<i2")).max() <= 8


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.ulaw_encode, g711.ulaw_decode), (g711.alaw_encode, g711.alaw_decode)],
    ids=["ulaw", "alaw"],
)
def test_rendered_speech_keeps_over_30_db_snr_through_g711(encode: object, decode: object) -> None:
    assert callable(encode) and callable(decode)
    pcm = speak("Your verification code is 4 8 1 5. Thank you for waiting.", choose_voice("EN"))
    back = decode(encode(pcm))
    assert len(back) == len(pcm)
    ratio = snr_db(np.frombuffer(pcm, "<i2"), np.frombuffer(back, "<i2"))
    assert ratio > 30.0, ratio
