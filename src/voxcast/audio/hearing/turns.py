"""Turn taking on voice activity frames, pure and clocked by the frames themselves (20 ms each):
`EndOfTurn` cuts the callee's utterances (end after a configurable silence), `BargeIn` decides
on the very frame that crosses its threshold whether the robot must stop talking."""

from __future__ import annotations

from dataclasses import dataclass

from voxcast.audio.hearing.vad import FRAME_MS

#: silence that ends the callee's turn (the issue's "about 700 ms")
END_SILENCE_MS = 700
#: speech an utterance needs before it counts: a click or a cough of a frame or two is not a turn
MIN_SPEECH_MS = 60
#: audio kept from before the first speech frame: the detector fires a little after the word
#: starts, and a recognizer given the word's onset hears it better
PRE_ROLL_MS = 200
#: an utterance this long ends anyway (a recognizer's window is 30 s; a talker who never pauses
#: is answered rather than waited out)
MAX_TURN_MS = 20_000
#: speech during an interruptible prompt that stops it (the issue's "about 250 ms")
BARGE_IN_MS = 250
#: silence that resets the barge-in count: "uh-huh ... yeah" a second apart is two backchannels,
#: not one 300 ms interruption; pauses between a talker's words are shorter
BARGE_IN_RESET_MS = 300


@dataclass(frozen=True)
class SpeechStarted:
    """The callee started an utterance; `at_ms` is the start of its first speech frame."""

    at_ms: int


@dataclass(frozen=True)
class TurnEnded:
    """The callee's utterance is over: from `started_ms` (its first speech frame) to `ended_ms`
    (the end of its last speech frame, where turn latency is measured from), `speech_ms` of it
    voiced; `pcm` is its 8 kHz 16-bit audio with up to PRE_ROLL_MS before the start and one
    frame of the trailing silence; `cause` is "silence" or "max" (it ran to MAX_TURN_MS)."""

    pcm: bytes
    started_ms: int
    ended_ms: int
    speech_ms: int
    cause: str

    @property
    def duration_ms(self) -> int:
        return self.ended_ms - self.started_ms


TurnEvent = SpeechStarted | TurnEnded


class EndOfTurn:
    """Feed every frame with the detector's word on it; returns SpeechStarted once an utterance
    has MIN_SPEECH_MS of speech, TurnEnded after `end_silence_ms` of silence following it.
    Shorter blips are dropped without an event."""

    def __init__(
        self,
        end_silence_ms: int = END_SILENCE_MS,
        *,
        min_speech_ms: int = MIN_SPEECH_MS,
        pre_roll_ms: int = PRE_ROLL_MS,
        max_turn_ms: int = MAX_TURN_MS,
    ) -> None:
        if end_silence_ms < FRAME_MS:
            raise ValueError(f"end_silence_ms must be at least one frame ({FRAME_MS} ms)")
        self.end_silence_ms = end_silence_ms
        self.min_speech_ms = min_speech_ms
        self.max_turn_ms = max_turn_ms
        self._pre_roll_frames = max(0, pre_roll_ms // FRAME_MS)
        self.now_ms = 0  # the end of the last frame fed
        self._history: list[bytes] = []  # frames before the utterance (pre-roll)
        self._frames: list[bytes] = []  # the utterance so far
        self._start_ms = 0
        self._last_speech_ms = 0  # end of the utterance's last speech frame
        self._speech_ms = 0
        self._silence_ms = 0
        self._started = False  # SpeechStarted was sent for this utterance

    @property
    def in_utterance(self) -> bool:
        return bool(self._frames)

    def feed(self, frame: bytes, speech: bool) -> TurnEvent | None:
        start = self.now_ms
        self.now_ms += FRAME_MS
        if not self._frames:
            if not speech:
                self._history.append(frame)
                if len(self._history) > self._pre_roll_frames:
                    del self._history[0]
                return None
            self._frames, self._history = [*self._history, frame], []
            self._start_ms = start
            self._speech_ms = 0
            self._silence_ms = 0
        else:
            self._frames.append(frame)
        if speech:
            self._speech_ms += FRAME_MS
            self._silence_ms = 0
            self._last_speech_ms = self.now_ms
        else:
            self._silence_ms += FRAME_MS
        if not self._started:
            if self._speech_ms >= self.min_speech_ms:
                self._started = True
                return SpeechStarted(self._start_ms)
            if self._silence_ms >= self.end_silence_ms:
                self._drop()  # a blip: nothing was said
            return None
        if self._silence_ms >= self.end_silence_ms:
            return self._end("silence")
        if self.now_ms - self._start_ms >= self.max_turn_ms:
            return self._end("max")
        return None

    def _end(self, cause: str) -> TurnEnded:
        trailing = self._silence_ms // FRAME_MS
        kept = self._frames[: len(self._frames) - max(0, trailing - 1)]
        event = TurnEnded(
            b"".join(kept),
            self._start_ms,
            self._last_speech_ms,
            self._speech_ms,
            cause,
        )
        self._drop()
        return event

    def _drop(self) -> None:
        self._frames = []
        self._history = []
        self._speech_ms = self._silence_ms = 0
        self._started = False

    def reset(self) -> None:
        """Forget any utterance in progress (the robot starts a new question)."""
        self._drop()


class BargeIn:
    """Whether the callee's speech must stop the prompt now. `prompt(interruptible)` when a
    prompt starts, `prompt_over()` when it ends; `feed(speech)` every frame returns True on
    exactly one frame: the one that brings the speech heard during an interruptible prompt to
    `threshold_ms` (so the stop comes within that frame). Speech counts across short pauses and
    resets after `reset_ms` of silence, so backchannels ("uh-huh", "mm") shorter than the
    threshold never stop the robot, and a non-interruptible prompt is never stopped at all."""

    def __init__(self, threshold_ms: int = BARGE_IN_MS, reset_ms: int = BARGE_IN_RESET_MS) -> None:
        self.threshold_ms = threshold_ms
        self.reset_ms = reset_ms
        self._playing = False
        self._interruptible = False
        self._speech_ms = 0
        self._silence_ms = 0
        #: speech heard during the current prompt, for the record (backchannels included)
        self.heard_ms = 0
        self.fired = False

    @property
    def playing(self) -> bool:
        return self._playing

    def prompt(self, interruptible: bool) -> None:
        self._playing = True
        self._interruptible = interruptible
        self._speech_ms = self._silence_ms = self.heard_ms = 0
        self.fired = False

    def prompt_over(self) -> None:
        self._playing = False

    def feed(self, speech: bool) -> bool:
        if not self._playing:
            return False
        if not speech:
            self._silence_ms += FRAME_MS
            if self._silence_ms >= self.reset_ms:
                self._speech_ms = 0
            return False
        self._silence_ms = 0
        self._speech_ms += FRAME_MS
        self.heard_ms += FRAME_MS
        if self._interruptible and self._speech_ms >= self.threshold_ms:
            self._playing = False
            self.fired = True
            return True
        return False
