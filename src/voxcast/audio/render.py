"""The renderer pool: turns (text, voice) pairs into cached prompts ahead of the dialer, each
distinct text once, in worker processes (speech synthesis is CPU-bound and holds the GIL)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from voxcast.audio.cache import PromptCache, prompt_key
from voxcast.audio.errors import RenderError
from voxcast.audio.pcm import BYTES_PER_SECOND
from voxcast.audio.tts import engine, speak_with
from voxcast.audio.voices import Voice


@dataclass(frozen=True)
class RenderRequest:
    """One text to speak in one voice (already filled with the callee's variables)."""

    text: str
    voice: Voice


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready to play: its cache key, WAV path (8 kHz mono) and exact length."""

    key: str
    path: Path
    duration_s: float
    cached: bool


def render_one(root: str, key: str, text: str, voice: Voice) -> tuple[float, str | None, str]:
    """Runs in a worker: speak, store, return (seconds, None, key) or (0, why it failed, key).
    When a remote voice fell back to its local one, the audio is stored under the local
    voice's key (returned instead), so the remote voice is tried again next time."""
    try:
        pcm, used = speak_with(text, voice)
        if used != voice:
            key = prompt_key(text, used, engine(used.engine).version())
        PromptCache(Path(root)).put(key, pcm)
    except RenderError as err:
        return 0.0, err.detail, key
    except Exception as err:  # an engine's own failure must not kill the batch
        return 0.0, f"{type(err).__name__}: {err}", key
    return len(pcm) / BYTES_PER_SECOND, None, key


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class RenderPool:
    """Renders prompts into a PromptCache with `workers` processes (default: one per core).

    `workers=0` renders in one background thread of this process instead: no process start-up,
    for tests and tiny installs. Process workers are started from a fork server, never forked
    from the running server (whose threads and sockets must not be copied).
    """

    def __init__(self, cache: PromptCache, *, workers: int | None = None) -> None:
        self.cache = cache
        self.workers = _default_workers() if workers is None else workers
        self._executor: Executor | None = None
        self._versions: dict[str, str] = {}

    # --- lifecycle ---

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.workers == 0:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="voxcast-tts")
            else:
                context = multiprocessing.get_context("forkserver")
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> RenderPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- rendering ---

    def key(self, request: RenderRequest) -> str:
        name = request.voice.engine
        if name not in self._versions:
            self._versions[name] = engine(name).version()
        return prompt_key(request.text, request.voice, self._versions[name])

    async def render(self, text: str, voice: Voice) -> RenderedPrompt:
        return (await self.render_many([RenderRequest(text, voice)]))[0]

    async def render_many(self, items: Iterable[RenderRequest]) -> list[RenderedPrompt]:
        """One RenderedPrompt per item, in order. Equal texts in equal voices are rendered once
        and cached ones not at all. If any text cannot be spoken, RenderError names the first
        such item (`index`); the others are still rendered and cached."""
        requests = list(items)
        keys = [self.key(r) for r in requests]
        first_of: dict[str, int] = {}
        for index, key in enumerate(keys):
            first_of.setdefault(key, index)
        known = await asyncio.to_thread(lambda: {key: self.cache.duration(key) for key in first_of})
        missing = [key for key, seconds in known.items() if seconds is None]
        durations: dict[str, float] = {k: s for k, s in known.items() if s is not None}
        failures: dict[str, str] = {}
        #: requested key → the key the audio was stored under (differs after a fallback)
        stored: dict[str, str] = {}
        if missing:
            await self._render_missing(missing, first_of, requests, durations, failures, stored)
        if failures:
            index = min(first_of[key] for key in failures)
            voice = requests[index].voice
            raise RenderError(
                f"text #{index} could not be spoken in {voice.engine} voice {voice.name}: "
                f"{failures[keys[index]]}",
                index,
            )
        out = []
        for key in keys:
            real = stored.get(key, key)
            cached = key not in missing
            out.append(RenderedPrompt(real, self.cache.path(real), durations[key], cached))
        return out

    async def _render_missing(
        self,
        missing: list[str],
        first_of: dict[str, int],
        requests: list[RenderRequest],
        durations: dict[str, float],
        failures: dict[str, str],
        stored: dict[str, str],
    ) -> None:
        loop = asyncio.get_running_loop()
        pool = self._pool()
        root = str(self.cache.root)
        # bounded, so a 100,000-text task does not queue 100,000 futures at once
        gate = asyncio.Semaphore(max(1, self.workers) * 4)

        async def one(key: str) -> None:
            request = requests[first_of[key]]
            async with gate:
                try:
                    seconds, error, real = await loop.run_in_executor(
                        pool, render_one, root, key, request.text, request.voice
                    )
                except BrokenProcessPool:
                    seconds, error, real = 0.0, "a renderer process died", key
            if error is None:
                durations[key] = seconds
                stored[key] = real
            else:
                failures[key] = error

        await asyncio.gather(*(one(key) for key in missing))
        if isinstance(pool, ProcessPoolExecutor) and any(
            "renderer process died" in why for why in failures.values()
        ):
            # a dead worker breaks the whole executor: start a fresh one next time
            self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)
