"""Prompts as the phone hears them: a prompt reference (`tts:<key>` or `file:<id>`) turned into
G.711 bytes for one law, encoded once per prompt and law and kept in a bounded memory cache."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import numpy as np

from voxcast.audio import g711
from voxcast.audio.cache import PromptCache

PCMU, PCMA = 0, 8
#: what a callee waiting for an agent hears: a ringback tone (425 Hz, 1 s on, 4 s off)
RINGBACK = "tone:ringback"
FileLoader = Callable[[str], Awaitable[bytes | None]]


def ringback_pcm(seconds_on: float = 1.0, seconds_off: float = 4.0) -> bytes:
    """One cadence of the ringback tone as 8 kHz 16-bit PCM, at a comfortable -20 dBFS."""
    on = np.arange(int(8000 * seconds_on))
    tone = (0.1 * 32767 * np.sin(2 * np.pi * 425 * on / 8000)).astype("<i2")
    return tone.tobytes() + b"\x00\x00" * int(8000 * seconds_off)


class PromptNotFound(LookupError):
    """A prompt reference with no audio behind it."""


class PromptAudio:
    """`await audio.g711(ref, codec)`: the prompt's audio in µ-law (0) or A-law (8). Speech
    comes from the prompt cache on disk, uploads from `load_file` (the normalized PCM kept in
    the database); other references from `extra` (tests and `voxcast call --play`)."""

    def __init__(
        self,
        cache: PromptCache | None,
        load_file: FileLoader | None = None,
        *,
        limit: int = 512,
    ) -> None:
        self._cache = cache
        self._load_file = load_file
        self._limit = limit
        self._encoded: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self.extra: dict[str, bytes] = {}  # ref → 8 kHz 16-bit mono PCM
        self.encodes = 0

    async def g711(self, ref: str, codec: int) -> bytes:
        key = (ref, codec)
        hit = self._encoded.get(key)
        if hit is not None:
            self._encoded.move_to_end(key)
            return hit
        pcm = await self._pcm(ref)
        encode = g711.alaw_encode if codec == PCMA else g711.ulaw_encode
        encoded = await asyncio.to_thread(encode, pcm)
        self.encodes += 1
        self._encoded[key] = encoded
        while len(self._encoded) > self._limit:
            self._encoded.popitem(last=False)
        return encoded

    async def _pcm(self, ref: str) -> bytes:
        if ref in self.extra:
            return self.extra[ref]
        kind, _, name = ref.partition(":")
        if kind == "silence":
            return b""
        if ref == RINGBACK:
            return ringback_pcm()
        if kind == "tts" and self._cache is not None:
            try:
                return (await asyncio.to_thread(self._cache.load, name)).pcm
            except (OSError, ValueError) as err:
                raise PromptNotFound(f"speech {name} is not in the prompt cache") from err
        if kind == "file" and self._load_file is not None:
            pcm = await self._load_file(name)
            if pcm is not None:
                return pcm
        raise PromptNotFound(f"no audio for prompt {ref!r}")
