"""The sandbox's speaking callees, for conversation calls (the AI robot's): what each says or
presses after the robot's prompts, by the number's digits (docs/sandbox.md), as real audio that
goes through the same voice activity detection as a call's RTP; the dialer hears it as it
would a real callee's turn (`CalleeSaid` with the audio, for its recognizer)."""

from __future__ import annotations

import asyncio
import functools
import secrets
import wave
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voxcast.audio import g711, recording
from voxcast.audio.cache import PromptCache
from voxcast.audio.tts import choose_voice, speak
from voxcast.ports import (
    AmdDecided,
    Answered,
    BargedIn,
    CalleeSaid,
    CalleeSpeaking,
    CallEvent,
    Clock,
    Conversation,
    DialRequest,
    Dtmf,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    Recorded,
)

#: the callee answers the robot this long after a prompt ends (if no other prompt began)
REPLY_AFTER_S = 0.6
#: a callee who talks over the robot starts this far into its first prompt
TALK_OVER_AFTER_S = 1.0
#: the simulated callee's voice: the installed English voice of this gender (docs/tts.md),
#: through G.711 like a call's RTP
VOICE_LANGUAGE, VOICE_GENDER = "EN", 2  # ssmlGender 2: female


@dataclass(frozen=True)
class Talker:
    """What a simulated callee does in a conversation: after the robot's n-th prompt it says
    `replies[n]` (the last one again once they run out), or presses `key`; with `talks_over`
    it starts its first reply during the robot's first prompt instead of after it."""

    name: str
    replies: tuple[str, ...] = ()
    key: str | None = None
    talks_over: bool = False

    def reply(self, turn: int) -> str | None:
        if not self.replies:
            return None
        return self.replies[min(turn, len(self.replies) - 1)]


#: by last digit, for numbers the sandbox answers (0-3 and 9; 4-8 fail as usual)
TALKERS: dict[str, Talker] = {
    "0": Talker("agrees", ("Yes, speaking.", "I can pay on Friday.")),
    "1": Talker("presses keys", key="1"),
    "2": Talker("declines", ("No, you have the wrong number.",)),
    "3": Talker("asks who is calling", ("Who is this?", "Yes, speaking.", "I can pay tomorrow.")),
    "9": Talker("stays silent"),
}
#: by second-to-last digit, before the last digit's rule
SECOND_TALKERS: dict[str, Talker] = {
    "7": Talker("asks to stop", ("Please stop calling me.",)),
    "8": Talker(
        "talks over the robot", ("Sorry, I'm busy right now, call me later.",), talks_over=True
    ),
}


def talker_for(number: str) -> Talker:
    second = SECOND_TALKERS.get(number[-2:-1])
    if second is not None:
        return second
    return TALKERS.get(number[-1:], TALKERS["0"])


@dataclass(frozen=True)
class Utterance:
    """A line as the call's hearing takes it: from the start of its audio, speech is heard at
    `speech_ms`, would stop an interruptible prompt at `barge_ms`, and ends as a turn at
    `ended_ms` with `pcm` as the turn's audio; `spoken` is all of it as the line carried it
    (for a recording)."""

    pcm: bytes
    speech_ms: int
    barge_ms: int | None
    ended_ms: int
    spoken: bytes = b""


@functools.lru_cache(maxsize=64)
def utterance(text: str, conversation: Conversation) -> Utterance:
    """`text` spoken, through G.711 and the voice activity detector a SIP call uses (runs the
    TTS engine and the VAD: call it off the event loop; cached per process)."""
    # the VAD's models load only for conversation calls
    from voxcast.audio.hearing import BargedIn as Interrupted
    from voxcast.audio.hearing import Ear
    from voxcast.audio.hearing.turns import SpeechStarted, TurnEnded

    pcm = speak(text, choose_voice(VOICE_LANGUAGE, None, VOICE_GENDER))
    quiet = b"\x00\x00" * 8 * (conversation.end_of_turn_ms + 600)
    audio = g711.ulaw_encode(b"\x00\x00" * 1600 + pcm + quiet)
    ear = Ear(end_silence_ms=conversation.end_of_turn_ms, barge_in_ms=conversation.barge_in_ms)
    ear.prompt(True)
    speech_ms = barge_ms = None
    for start in range(0, len(audio), 160):
        for event in ear.feed(audio[start : start + 160]):
            if isinstance(event, SpeechStarted) and speech_ms is None:
                speech_ms = event.at_ms
            elif isinstance(event, TurnEnded):
                spoken = g711.ulaw_decode(audio)
                return Utterance(
                    event.pcm, speech_ms or event.started_ms, barge_ms, ear.now_ms, spoken
                )
            elif isinstance(event, Interrupted) and barge_ms is None:
                barge_ms = ear.now_ms
    raise RuntimeError(f"the voice activity detector heard no turn in {text!r}")


async def prepare(request: DialRequest) -> None:
    """Synthesise and hear the callee's lines before the call (off the event loop)."""
    assert request.conversation is not None
    for line in talker_for(request.callee).replies:
        await asyncio.to_thread(utterance, line, request.conversation)


@dataclass
class _Track:
    """What a recorded sandbox call's sides said: the robot's prompts (reference, start, end)
    and the callee's lines (start, audio), in seconds from the answer."""

    folder: Path
    cache: PromptCache
    said: list[list[Any]] = field(default_factory=list)
    heard: list[tuple[float, bytes]] = field(default_factory=list)

    def _prompt(self, ref: str) -> bytes:
        kind, _, key = ref.partition(":")
        if kind != "tts":
            return b""  # uploads and silences: the robot's side is quiet there
        try:
            return self.cache.load(key).pcm
        except (OSError, ValueError, EOFError, wave.Error):
            return b""

    def save(self, seconds: float) -> tuple[Path | None, Path]:
        """Write the two files (runs off the event loop)."""
        said = []
        for ref, start, end in self.said:
            pcm = self._prompt(ref)[: max(0, round((end - start) * 8000)) * 2]
            said.append((start, pcm))
        sent = recording.timeline(seconds, said)
        heard = recording.timeline(seconds, self.heard)
        return recording.save(self.folder, secrets.token_hex(12), sent, heard)


class TalkingCall:
    """A sandbox conversation call once answered: the robot's prompts play for their length,
    the callee answers them as its `Talker` says; `hangup()` ends it. With `recordings` and
    a recorded request, both sides are written there as the call ends (`Recorded`)."""

    def __init__(
        self,
        request: DialRequest,
        clock: Clock,
        before: list[CallEvent],
        answered_at: datetime,
        recordings: tuple[Path, PromptCache] | None = None,
    ) -> None:
        assert request.conversation is not None
        self._request = request
        self._conversation = request.conversation
        self._clock = clock
        self._before = before  # ringing, then the answer, at their planned times
        self._answered_at = answered_at
        self._talker = talker_for(request.callee)
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._playing: tuple[Prompt, bool, asyncio.Task[None]] | None = None
        self._turn = 0  # prompts answered so far
        self._speaking = False
        self._ended = False
        self._answered = False
        self._track = _Track(*recordings) if recordings and request.record else None

    def _offset(self) -> float:
        return (self._clock.now() - self._answered_at).total_seconds()

    async def events(self) -> AsyncIterator[CallEvent]:
        self._spawn(self._ring_and_answer())
        try:
            while True:
                event = await self._queue.get()
                yield event
                if isinstance(event, HungUp):
                    return
        finally:
            self._ended = True
            for task in list(self._tasks):
                task.cancel()

    async def _ring_and_answer(self) -> None:
        for event in self._before:
            wait = (event.at - self._clock.now()).total_seconds()
            if wait > 0:
                await self._clock.sleep(wait)
            if isinstance(event, Answered):
                self._answered = True
            self._put(event)

    async def hangup(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._playing is not None:
            self._playing[2].cancel()
            self._playing = None
            self._cut()
        code = 200 if self._answered else 487
        at = self._clock.now()
        track, self._track = self._track, None  # nothing is added while it is written
        if track is not None and self._answered:
            full, customer = await asyncio.to_thread(track.save, self._offset())
            self._queue.put_nowait(Recorded(full, customer, at))
        self._queue.put_nowait(HungUp(at, HangupBy.US, code, "hung up by us"))

    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        if self._ended:
            return
        self._stop()
        ending = self._spawn(self._play(prompt))
        self._playing = (prompt, interruptible, ending)
        if self._track is not None:
            start = self._offset()
            self._track.said.append([prompt.ref, start, start + prompt.duration_s])
        if self._talker.talks_over and self._turn == 0 and not self._speaking:
            self._speaking = True
            self._spawn(self._speak_after(TALK_OVER_AFTER_S))

    def hush(self) -> None:
        self._stop()

    # -- the robot's side ------------------------------------------------------------------
    def _stop(self) -> None:
        if self._playing is not None:
            self._playing[2].cancel()
            self._playing = None
            self._cut()
            self._put(PromptDone(self._clock.now()))

    def _cut(self) -> None:
        """The prompt said last stops now (stopped, barged in on or hung up on)."""
        if self._track is not None and self._track.said:
            last = self._track.said[-1]
            last[2] = min(last[2], self._offset())

    async def _play(self, prompt: Prompt) -> None:
        await self._clock.sleep(prompt.duration_s)
        self._playing = None
        self._put(PromptDone(self._clock.now()))
        self._spawn(self._answer_prompt())

    # -- the callee's side -----------------------------------------------------------------
    async def _answer_prompt(self) -> None:
        await self._clock.sleep(REPLY_AFTER_S)
        if self._playing is not None or self._speaking or self._ended:
            return  # the robot went on talking: the callee waits for its next pause
        if self._talker.key is not None:
            self._turn += 1
            self._put(Dtmf(self._talker.key, self._clock.now()))
            return
        if self._talker.reply(self._turn) is not None:
            self._speaking = True
            await self._speak_after(0.0)

    async def _speak_after(self, seconds: float) -> None:
        line = self._talker.reply(self._turn)
        assert line is not None
        self._turn += 1
        heard = await asyncio.to_thread(utterance, line, self._conversation)
        await self._clock.sleep(seconds)
        began = self._clock.now()
        if self._track is not None:
            self._track.heard.append((self._offset(), heard.spoken))
        try:
            await self._clock.sleep(heard.speech_ms / 1000)
            self._put(CalleeSpeaking(self._clock.now()))
            waited = heard.speech_ms
            playing = self._playing
            if heard.barge_ms is not None and playing is not None and playing[1]:
                await self._clock.sleep((heard.barge_ms - waited) / 1000)
                waited = heard.barge_ms
                if self._playing is playing:  # still the same prompt: it stops on this frame
                    playing[2].cancel()
                    self._playing = None
                    self._cut()
                    self._put(BargedIn(self._clock.now()))
                    self._put(PromptDone(self._clock.now()))
            await self._clock.sleep((heard.ended_ms - waited) / 1000)
            self._put(CalleeSaid(heard.pcm, began, self._clock.now()))
        finally:
            self._speaking = False

    def _put(self, event: CallEvent) -> None:
        if not self._ended:
            self._queue.put_nowait(event)

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def amd_events(events: list[CallEvent]) -> list[CallEvent]:
    """The planned events a conversation call keeps before it talks: up to the answer, then
    only the detector's verdict (a machine's greeting is the robot's to handle)."""
    answer = next((i for i, e in enumerate(events) if isinstance(e, Answered)), len(events))
    return events[: answer + 1] + [e for e in events[answer + 1 :] if isinstance(e, AmdDecided)]
