"""G.711 µ-law (PCMU) and A-law (PCMA) for 16-bit PCM, vectorised with lookup tables (ITU-T
G.711, the classic Sun reference algorithm); used to measure prompt quality after the phone
codec, and usable by the RTP layer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_BIAS = 0x84
#: µ-law segment ends on the 14-bit scale (CPython's audioop and the Sun reference)
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ULAW_CLIP = 8159
#: A-law segment starts on the 13-bit scale (segment 0 and 1 share the linear step)
_ALAW_SEG_START = np.array([64, 128, 256, 512, 1024, 2048], dtype=np.int32)


def _ulaw_encode_array(samples: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    value = samples >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEG_END, magnitude, side="left").astype(np.int32)
    code = (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_encode_array(samples: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    sign = np.where(samples >= 0, 0x80, 0)
    magnitude = np.where(samples < 0, -samples - 1, samples) >> 3
    exponent = np.searchsorted(_ALAW_SEG_START, magnitude, side="right").astype(np.int32) + 1
    code = np.where(
        magnitude < 32,
        magnitude >> 1,
        (exponent << 4) | ((magnitude >> exponent) & 0x0F),
    )
    return ((sign | code) ^ 0x55).astype(np.uint8)


def _ulaw_decode_one(code: int) -> int:
    code = ~code & 0xFF
    sign, exponent, mantissa = code & 0x80, (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if sign else magnitude


def _alaw_decode_one(code: int) -> int:
    code ^= 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    if exponent == 0:
        return ((mantissa << 4) + 8) * (1 if code & 0x80 else -1)
    magnitude = ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if code & 0x80 else -magnitude


_ALL = np.arange(-32768, 32768, dtype=np.int32)
#: index: sample + 32768
_ULAW_ENC = _ulaw_encode_array(_ALL)
_ALAW_ENC = _alaw_encode_array(_ALL)
_ULAW_DEC: npt.NDArray[np.int16] = np.array([_ulaw_decode_one(c) for c in range(256)], "<i2")
_ALAW_DEC: npt.NDArray[np.int16] = np.array([_alaw_decode_one(c) for c in range(256)], "<i2")


def _index(pcm: bytes) -> npt.NDArray[np.int32]:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32) + 32768


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit little-endian PCM → one µ-law byte per sample."""
    return _ULAW_ENC[_index(pcm)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """µ-law bytes → 16-bit little-endian PCM."""
    return _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit little-endian PCM → one A-law byte per sample."""
    return _ALAW_ENC[_index(pcm)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes → 16-bit little-endian PCM."""
    return _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)].tobytes()
