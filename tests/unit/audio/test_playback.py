"""Prompt audio for the phone: each prompt is encoded once per law and then served from
memory; unknown references are a clear error."""

from __future__ import annotations

import pytest

from voxcast.audio import g711
from voxcast.audio.cache import PromptCache
from voxcast.audio.playback import PCMA, PCMU, PromptAudio, PromptNotFound

PCM = b"".join(int(v).to_bytes(2, "little", signed=True) for v in range(-4000, 4000, 10))


async def test_each_prompt_is_encoded_once_per_law(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = PromptCache(tmp_path)
    key = "ab" * 32
    cache.put(key, PCM)
    loads: list[str] = []

    async def load_file(file_id: str) -> bytes | None:
        loads.append(file_id)
        return PCM if file_id == "42.mp3" else None

    audio = PromptAudio(cache, load_file)
    for _ in range(3):
        assert await audio.g711(f"tts:{key}", PCMU) == g711.ulaw_encode(PCM)
        assert await audio.g711("file:42.mp3", PCMA) == g711.alaw_encode(PCM)
    assert audio.encodes == 2 and loads == ["42.mp3"]
    with pytest.raises(PromptNotFound):
        await audio.g711("file:missing.wav", PCMU)
    with pytest.raises(PromptNotFound):
        await audio.g711("tts:" + "cd" * 32, PCMU)


async def test_the_memory_cache_is_bounded() -> None:
    audio = PromptAudio(None, limit=2)
    for ref in ("a", "b", "c"):
        audio.extra[ref] = PCM
        await audio.g711(ref, PCMU)
    await audio.g711("a", PCMU)  # evicted, so encoded again
    assert audio.encodes == 4
