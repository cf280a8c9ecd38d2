"""The AI robot: how fast it answers and how well it hears. Sandbox conversations (the speaking
callees of docs/sandbox.md) at a clock speed of 1, 10 at once then more: the time from the end
of the callee's speech (the last `CalleeSaid` of the turn, less the pause the carrier cut it at)
to the robot's next prompt (`say`), p50 and p95, and the
most conversations at once whose turns are all heard and answered within 1.5 s at p95. Then
the labelled set (tests/data/robot): intent accuracy on its texts, WER and intents from its
audio through the Ear and the recognizer, and the recognizer's real-time factor against the
same model run bare (faster-whisper on the same turns): the ratio.

Prompts are rendered at once (as from the prompt cache): the latency is hearing + dialogue.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.data.robot import (  # noqa: E402
    UTTERANCES,
    Clip,
    Heard,
    accuracy,
    clips,
    hear,
    intent_of,
    turns,
    wer,
)

from voxcast.audio.hearing.asr import (  # noqa: E402
    Recognition,
    RecognizerPool,
    WhisperRecognizer,
    recognizer_from_env,
)
from voxcast.audio.pcm import SAMPLE_RATE, wav_bytes  # noqa: E402
from voxcast.clock import ScaledClock  # noqa: E402
from voxcast.dialer.conversation import (  # noqa: E402
    ASR_QUEUE,
    TURN_END_MS,
    Hearing,
    RobotCall,
    carrier_conversation,
)
from voxcast.domain import scripts as sc  # noqa: E402
from voxcast.ports import (  # noqa: E402
    Call,
    CalleeSaid,
    CallEvent,
    DialRequest,
    Prompt,
)
from voxcast.robot import dialogue as dl  # noqa: E402
from voxcast.services.scripts import example_document  # noqa: E402
from voxcast.telephony.sandbox import SandboxCarrier  # noqa: E402
from voxcast.telephony.sandbox_talk import prepare  # noqa: E402

#: a robot's line lasts this long per character (about espeak-ng's pace), as in the tests
SECONDS_PER_CHAR = 0.06
VARIABLES = {"name": "Jack", "amount": "42 dollars", "dueDate": "March 1"}
#: the sandbox's talking callees, by number ending: agrees, declines, asks who is calling,
#: asks to stop, talks over the robot
ENDINGS = ("10", "12", "13", "70", "80")
STEPS = (10, 20, 30, 40, 60, 80)
#: below the first step, when even it does not hold
DOWN_STEPS = (5, 2, 1)
#: conversations start this far apart, as answers spread out (all at once, every callee's
#: turn would end on the same instant: the sandbox rings each number for the same time)
STAGGER_S = 0.5
TARGET_P50_S, TARGET_P95_S, HOLD_P95_S = 0.8, 1.2, 1.5
THREADS = int(os.environ.get("VOXCAST_ASR_THREADS", "") or 1)
#: where the carrier cuts a robot call's utterances: the end of speech is this long before
PAUSE_MS = carrier_conversation().end_of_turn_ms


class TimedPool(RecognizerPool):
    """The dialer's pool, keeping the engine's own seconds for each turn it heard and the
    turns it did not (busy, timed out, failed: the callee hears a retry instead)."""

    engine_s: list[float]
    unheard: int

    async def recognize(self, pcm: bytes, *, language: str | None = None) -> Recognition:
        heard = await super().recognize(pcm, language=language)
        if heard.ok:
            self.engine_s.append(heard.seconds)
        else:
            self.unheard += 1
        return heard


class TimedCall:
    """The sandbox call, with the time each `CalleeSaid` ends and each prompt starts."""

    def __init__(self, call: Call, clock: ScaledClock, latencies: list[float]) -> None:
        self._call = call
        self._clock = clock
        self._latencies = latencies
        self._turn_ended: datetime | None = None

    async def events(self) -> AsyncIterator[CallEvent]:
        async for event in self._call.events():
            if isinstance(event, CalleeSaid):  # the carrier heard the pause after the speech
                self._turn_ended = event.at - timedelta(milliseconds=PAUSE_MS)
            yield event

    def say(self, prompt: Prompt, *, interruptible: bool) -> None:
        if self._turn_ended is not None:
            waited = (self._clock.now() - self._turn_ended).total_seconds()
            self._latencies.append(waited)
            self._turn_ended = None
        self._call.say(prompt, interruptible=interruptible)

    def hush(self) -> None:
        self._call.hush()

    async def hangup(self) -> None:
        await self._call.hangup()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


async def converse(
    number: str, pool: RecognizerPool, script: sc.Script, clock: ScaledClock, lat: list[float]
) -> dl.DialogueRecord:
    async def render(text: str) -> Prompt:
        return Prompt("text:", len(text) * SECONDS_PER_CHAR)

    robot = RobotCall(dl.Dialogue(script, VARIABLES), Hearing(pool), render, clock, language="en")
    request = DialRequest(
        callee=number,
        caller_id=None,
        prompt=Prompt("silence:", 0.0),
        max_talk_s=120,
        conversation=robot.conversation(),
    )
    call = await SandboxCarrier(clock).dial(request)
    async for _ in robot.run(TimedCall(call, clock, lat)):
        pass
    return robot.dialogue.record


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def step(n: int, pool: TimedPool, script: sc.Script) -> tuple[list[float], int, float]:
    clock = ScaledClock(1.0)
    lat: list[float] = []
    pool.engine_s, pool.unheard = [], 0
    numbers = [f"8613{i:05d}{ENDINGS[i % len(ENDINGS)]}" for i in range(n)]

    async def later(i: int, number: str) -> dl.DialogueRecord:
        await asyncio.sleep(i * STAGGER_S)
        return await converse(number, pool, script, clock, lat)

    started = time.monotonic()
    await asyncio.gather(*(later(i, number) for i, number in enumerate(numbers)))
    return lat, pool.unheard, time.monotonic() - started


async def conversations(recognizer: WhisperRecognizer) -> None:
    script = sc.parse(example_document())
    conv = carrier_conversation()
    for ending in ENDINGS:  # the callees' lines synthesised once, before the clock runs
        await prepare(
            DialRequest(f"861300000{ending}", None, Prompt("silence:", 0.0), 60, conversation=conv)
        )
    pool = TimedPool(recognizer, queue=ASR_QUEUE)
    print(f"ai: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores before the steps")

    async def holds(n: int) -> bool:
        lat, unheard, took = await step(n, pool, script)
        p50, p95 = statistics.median(lat), pct(lat, 0.95)
        print(
            f"ai: {n:>3} conversations at once: {len(lat)} turns answered, p50 {p50 * 1000:.0f} "
            f"ms, p95 {p95 * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms, {unheard} unheard "
            f"(recognizer busy or timed out) ({took:.0f} s)"
        )
        if n == STEPS[0]:
            print(
                f"ai: turn latency at {n}: p50 {p50 * 1000:.0f} ms (target "
                f"{TARGET_P50_S * 1000:.0f}: ratio {p50 / TARGET_P50_S:.2f}), p95 "
                f"{p95 * 1000:.0f} ms (target {TARGET_P95_S * 1000:.0f}: ratio "
                f"{p95 / TARGET_P95_S:.2f}); the recognizer's own time per turn p50 "
                f"{statistics.median(pool.engine_s) * 1000:.0f} ms: ratio "
                f"{p50 / statistics.median(pool.engine_s):.2f}; {TURN_END_MS} ms of each is the "
                "silence that ends the turn"
            )
        return p95 <= HOLD_P95_S and unheard == 0

    held = 0
    for n in STEPS:
        if not await holds(n):
            break
        held = n
    if not held:
        for n in DOWN_STEPS:
            if await holds(n):
                held = n
                break
    print(f"ai: most conversations at once with every turn heard and p95 <= 1.5 s: {held}")
    pool.close()


def bare_seconds(model: Any, pcm: bytes) -> float:
    """faster-whisper alone on one turn, as tests/listen.py runs it: its own decoder and
    resampler, the robot's decoding options."""
    from faster_whisper import decode_audio

    started = time.perf_counter()
    audio = decode_audio(io.BytesIO(wav_bytes(pcm, SAMPLE_RATE)), sampling_rate=16000)
    segments, _ = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        temperature=0.0,
        condition_on_previous_text=False,
        without_timestamps=True,
        vad_filter=False,
        max_new_tokens=96,
    )
    " ".join(s.text for s in segments)
    return time.perf_counter() - started


def labelled_set(recognizer: WhisperRecognizer) -> None:
    right = sum(intent_of(u.text, u.node) == u.intent for u in UTTERANCES)
    print(f"ai: intent accuracy on {len(UTTERANCES)} texts: {right / len(UTTERANCES):.3f}")
    found: list[tuple[Clip, list[bytes]]] = [(c, turns(c.audio)) for c in clips()]
    spent = 0.0

    def timed(pcm: bytes) -> str:
        nonlocal spent
        started = time.perf_counter()
        text = recognizer.transcribe(pcm)
        spent += time.perf_counter() - started
        return text

    heard: list[Heard] = [hear(clip, pcm, timed) for clip, pcm in found]
    audio_s = sum(len(p) for _, pcm in found for p in pcm) / (2 * SAMPLE_RATE)
    print(
        f"ai: {len(heard)} clips ({audio_s:.0f} s of turns, 2 voices, G.711): WER "
        f"{wer(heard):.3f}, intent accuracy from the audio {accuracy(heard):.3f}"
    )
    from faster_whisper import WhisperModel

    bare = WhisperModel(
        str(recognizer.model_dir), device="cpu", compute_type="int8", cpu_threads=THREADS
    )
    bare_s = sum(bare_seconds(bare, p) for _, pcm in found for p in pcm)
    rtf, bare_rtf = spent / audio_s, bare_s / audio_s
    print(
        f"ai: recognizer real-time factor {rtf:.3f} vs faster-whisper bare {bare_rtf:.3f}: "
        f"ratio {rtf / bare_rtf:.2f}"
    )


def main() -> int:
    # the operator's recognizer (VOXCAST_ASR_MODEL, _THREADS, _WORKERS; unset: the packaged
    # tiny.en on one thread, one turn at a time), as the dialer loads it
    recognizer = recognizer_from_env()
    if not isinstance(recognizer, WhisperRecognizer):
        print("ai: VOXCAST_ASR_ENGINE is not whisper: nothing to measure here")
        return 1
    print(
        f"ai: {recognizer.model_dir}, {recognizer.concurrency} worker(s), {THREADS} thread(s) each"
    )
    recognizer.transcribe(b"\x00\x00" * SAMPLE_RATE)  # loaded and warm before any timing
    asyncio.run(conversations(recognizer))
    labelled_set(recognizer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
