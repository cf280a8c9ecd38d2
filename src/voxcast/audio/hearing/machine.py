"""A call's answering-machine listener: the callee's audio from the answer on through an `Ear`
with AMD (one verdict), and after a MACHINE verdict, the end of its greeting: a beep (a
steady tone found by Goertzel filters), else silence, else a time-out (docs/compliance.md)."""

from __future__ import annotations

import numpy as np

from voxcast.audio import g711
from voxcast.audio.hearing.ear import PCMA, PCMU, Ear
from voxcast.audio.hearing.vad import (
    FRAME_BYTES,
    FRAME_MS,
    FRAME_SAMPLES,
    VoiceDetector,
    detector,
)
from voxcast.domain.amd import AmdResult, AmdSettings, GreetingOver, Verdict

#: the beep: one frequency in this band, steady (within BEEP_DRIFT_HZ) for BEEP_MIN_MS
BEEP_LOW_HZ, BEEP_HIGH_HZ, BEEP_STEP_HZ = 400, 2100, 10
BEEP_MIN_MS = 150
BEEP_DRIFT_HZ = 30
#: share of a frame's energy in its strongest Goertzel bin for the frame to be a tone: a pure
#: tone has nearly all of it (0.97 at worst between bins), a vowel spreads it over harmonics
TONE_PURITY = 0.7
#: quieter than this (RMS, of 32768) is no tone: line hiss
TONE_FLOOR = 300.0
#: with no beep this long after the verdict, the greeting's end is the line going quiet
BEEP_WAIT_MS = 5000
#: ...for this long
GREETING_END_SILENCE_MS = 1200
#: and with neither, the message starts anyway this long after the verdict
GREETING_MAX_WAIT_MS = 20000

#: voice detectors kept for the next call: making one loads Silero's model (about 150 ms)
SPARE_DETECTORS = 64

Heard = AmdResult | GreetingOver

_spare: list[VoiceDetector] = []


def listener(settings: AmdSettings, codec: int, *, greeting_end: bool) -> MachineListener:
    """A listener on a spare voice detector (reset) if one is free, else a new one: slow the
    first times, so a call on an event loop makes it in a thread (`MediaStream`)."""
    return MachineListener(settings, codec, greeting_end=greeting_end, vad=spare_detector())


def spare_detector() -> VoiceDetector:
    """A spare voice detector (reset) if one is free, else a new one (slow: make it in a
    thread); give it back with `give_back` when its call is over."""
    try:
        vad = _spare.pop()  # atomic: calls in threads may take them at once
        vad.reset()
    except IndexError:
        vad = detector()
    return vad


def give_back(vad: VoiceDetector) -> None:
    """A call's voice detector, for the next call."""
    if len(_spare) < SPARE_DETECTORS:
        _spare.append(vad)


class BeepDetector:
    """Feed 20 ms frames of 16-bit PCM; `feed` says whether a beep has just ended (a tone of
    one frequency in 400-2100 Hz held for at least 150 ms), on the first frame after it."""

    def __init__(self) -> None:
        freqs = np.arange(BEEP_LOW_HZ, BEEP_HIGH_HZ + 1, BEEP_STEP_HZ, dtype=np.float64)
        n = np.arange(FRAME_SAMPLES, dtype=np.float64)
        phase = 2 * np.pi * np.outer(n, freqs) / 8000
        # one matrix product gives every bin's Goertzel (single-bin DFT) output at once
        self._basis = np.concatenate([np.cos(phase), np.sin(phase)], axis=1)
        self._freqs = freqs
        self._bins = len(freqs)
        self._tone_hz: float | None = None
        self._tone_ms = 0
        self.last_beep_hz: float | None = None

    def tone(self, frame: bytes) -> float | None:
        """The frequency of the tone this frame holds, or None."""
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        energy = float(np.dot(x, x))
        if energy < TONE_FLOOR**2 * FRAME_SAMPLES:
            return None
        out = x @ self._basis
        power = out[: self._bins] ** 2 + out[self._bins :] ** 2
        best = int(np.argmax(power))
        purity = 2 * float(power[best]) / (FRAME_SAMPLES * energy)
        return float(self._freqs[best]) if purity >= TONE_PURITY else None

    def feed(self, frame: bytes) -> bool:
        hz = self.tone(frame)
        if hz is not None and (self._tone_hz is None or abs(hz - self._tone_hz) <= BEEP_DRIFT_HZ):
            if self._tone_hz is None:
                self._tone_hz = hz
            self._tone_ms += FRAME_MS
            return False
        ended = self._tone_ms >= BEEP_MIN_MS
        if ended:
            self.last_beep_hz = self._tone_hz
        self._tone_hz, self._tone_ms = (hz, FRAME_MS) if hz is not None else (None, 0)
        return ended


class MachineListener:
    """Feed the callee's G.711 payloads (`feed`) or PCM (`feed_pcm`) from the answer on; get
    the `AmdResult` once and, with `greeting_end`, after a MACHINE verdict one `GreetingOver`."""

    def __init__(
        self,
        settings: AmdSettings,
        codec: int = PCMU,
        *,
        greeting_end: bool = False,
        vad: VoiceDetector | None = None,
    ) -> None:
        self.ear = Ear(codec, vad=vad, amd=settings)
        self._decode = g711.ulaw_decode if codec == PCMU else g711.alaw_decode
        if codec not in (PCMU, PCMA):
            raise ValueError(f"payload type {codec} is not G.711")
        self._greeting_end = greeting_end
        self._beeps = BeepDetector() if greeting_end else None
        self._pending = b""
        self._now = 0
        self._quiet_ms = 0
        self._beep_at: int | None = None  # when a beep ended (maybe before the verdict)
        self.result: AmdResult | None = None
        self.greeting_over: GreetingOver | None = None

    @property
    def done(self) -> bool:
        """Nothing more to listen for."""
        if self.result is None:
            return False
        return (
            not self._greeting_end
            or self.result.verdict is not Verdict.MACHINE
            or self.greeting_over is not None
        )

    def feed(self, payload: bytes) -> list[Heard]:
        return self.feed_pcm(self._decode(payload))

    def close(self) -> None:
        """Done with it: its voice detector goes back to the spares."""
        vad, self.ear.vad = self.ear.vad, _Closed()
        if not isinstance(vad, _Closed):
            give_back(vad)

    def feed_pcm(self, pcm: bytes) -> list[Heard]:
        data = self._pending + pcm if self._pending else pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        heard: list[Heard] = []
        for start in range(0, whole, FRAME_BYTES):
            if self.done:
                break
            self._frame(data[start : start + FRAME_BYTES], heard)
        return heard

    def _frame(self, frame: bytes, heard: list[Heard]) -> None:
        self._now += FRAME_MS
        spoken = self.ear.speech_frames
        for event in self.ear.feed_pcm(frame):
            if isinstance(event, AmdResult):
                self.result = event
                heard.append(event)
        speech = self.ear.speech_frames > spoken
        beeps = self._beeps
        if beeps is None:
            return
        beep_ended = beeps.feed(frame)
        if beep_ended:
            self._beep_at = self._now
        self._quiet_ms = 0 if speech or beeps._tone_ms else self._quiet_ms + FRAME_MS
        result = self.result
        if result is None or result.verdict is not Verdict.MACHINE:
            return
        over: GreetingOver | None = None
        since = self._now - result.at_ms
        if self._beep_at is not None:
            over = GreetingOver(self._now, "beep")
        elif since >= BEEP_WAIT_MS and self._quiet_ms >= GREETING_END_SILENCE_MS:
            over = GreetingOver(self._now, "silence")
        elif since >= GREETING_MAX_WAIT_MS:
            over = GreetingOver(self._now, "timeout")
        if over is not None:
            self.greeting_over = over
            heard.append(over)


class _Closed:
    """The voice detector of a closed listener: it hears nothing."""

    name = "closed"

    def speech(self, frame: bytes) -> bool:
        return False

    def reset(self) -> None:
        return None
