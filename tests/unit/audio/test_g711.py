"""G.711 µ-law/A-law: bit-exact with the reference, and speech survives the round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voxcast.audio import choose_voice, g711, speak


def snr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = ref - degraded.astype(np.float64)
    return float(10 * np.log10(np.sum(ref * ref) / np.sum(noise * noise)))


def test_codecs_match_the_reference_implementation_bit_for_bit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    every = np.arange(-32768, 32768, dtype="<i2").tobytes()
    codes = bytes(range(256))
    assert g711.ulaw_encode(every) == audioop.lin2ulaw(every, 2)
    assert g711.alaw_encode(every) == audioop.lin2alaw(every, 2)
    assert g711.ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert g711.alaw_decode(codes) == audioop.alaw2lin(codes, 2)


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
