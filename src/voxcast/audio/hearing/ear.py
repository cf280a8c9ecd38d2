"""One call's hearing: the callee's G.711 payloads in as they arrive, cut into 20 ms frames,
voice activity on each, then barge-in (its stop called inline, on the frame that decides it),
end of turn and answering-machine detection, as events for the conversation to act on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voxcast.audio import g711
from voxcast.audio.hearing.amd import AmdResult, AmdSettings, AnsweringMachineDetector
from voxcast.audio.hearing.turns import (
    BARGE_IN_MS,
    END_SILENCE_MS,
    BargeIn,
    EndOfTurn,
    SpeechStarted,
    TurnEnded,
)
from voxcast.audio.hearing.vad import FRAME_BYTES, FRAME_MS, VoiceDetector, detector

#: RTP payload types of the two G.711 laws (RFC 3551)
PCMU, PCMA = 0, 8


@dataclass(frozen=True)
class BargedIn:
    """The callee talked over an interruptible prompt long enough: it was stopped at `at_ms`."""

    at_ms: int


HearingEvent = SpeechStarted | TurnEnded | BargedIn | AmdResult


class Ear:
    """Feed it every audio payload of the callee's RTP (`feed`, G.711 in `codec`), or 16-bit
    PCM (`feed_pcm`); tell it when a prompt starts and ends. `on_barge_in` is called within
    the frame whose speech crosses the barge-in threshold: give it the stream's
    `stop_playing`. With `amd`, the first seconds are also judged human or machine (one
    AmdResult event)."""

    def __init__(
        self,
        codec: int = PCMU,
        *,
        vad: VoiceDetector | None = None,
        end_silence_ms: int = END_SILENCE_MS,
        barge_in_ms: int = BARGE_IN_MS,
        amd: AmdSettings | None = None,
        on_barge_in: Callable[[], None] | None = None,
    ) -> None:
        if codec not in (PCMU, PCMA):
            raise ValueError(f"payload type {codec} is not G.711 (0 PCMU, 8 PCMA)")
        self._decode = g711.ulaw_decode if codec == PCMU else g711.alaw_decode
        self.vad = vad if vad is not None else detector()
        self.turns = EndOfTurn(end_silence_ms)
        self.barge_in = BargeIn(barge_in_ms)
        self.amd = AnsweringMachineDetector(amd) if amd is not None else None
        self.on_barge_in = on_barge_in
        self._pending = b""
        self.speech_frames = 0

    @property
    def now_ms(self) -> int:
        """Audio heard so far, in ms (the frames' own clock)."""
        return self.turns.now_ms

    def prompt(self, interruptible: bool) -> None:
        self.barge_in.prompt(interruptible)

    def prompt_over(self) -> None:
        self.barge_in.prompt_over()

    def feed(self, payload: bytes) -> list[HearingEvent]:
        return self.feed_pcm(self._decode(payload))

    def feed_pcm(self, pcm: bytes) -> list[HearingEvent]:
        data = self._pending + pcm if self._pending else pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        events: list[HearingEvent] = []
        for start in range(0, whole, FRAME_BYTES):
            self._frame(data[start : start + FRAME_BYTES], events)
        return events

    def _frame(self, frame: bytes, events: list[HearingEvent]) -> None:
        speech = self.vad.speech(frame)
        self.speech_frames += speech
        if self.barge_in.feed(speech):
            # first, before anything else is done with this frame: the prompt stops now
            if self.on_barge_in is not None:
                self.on_barge_in()
            events.append(BargedIn(self.turns.now_ms + FRAME_MS))
        turn = self.turns.feed(frame, speech)
        if turn is not None:
            events.append(turn)
        if self.amd is not None:
            verdict = self.amd.feed(speech)
            if verdict is not None:
                events.append(verdict)
