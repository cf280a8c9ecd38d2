"""What each task's calls play, and how long it lasts (until the audio pipeline measures it)."""

from __future__ import annotations

import io
import wave
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.ports import Prompt
from voxcast.storage.models import VoiceFile

#: speech rate of the TTS estimate: characters per second at speakingRate 1
CHARS_PER_SECOND = 14.0
#: assumed bitrate of compressed uploads until they are decoded (issue: audio pipeline)
ASSUMED_BITRATE = 32_000
MIN_PROMPT_S = 1.0
MAX_PROMPT_S = 600.0


def _clamp(seconds: float) -> float:
    return max(MIN_PROMPT_S, min(MAX_PROMPT_S, seconds))


def tts_duration(text: str, speaking_rate: float | None) -> float:
    rate = speaking_rate if speaking_rate and speaking_rate > 0 else 1.0
    return _clamp(len(text) / (CHARS_PER_SECOND * rate))


def file_duration(content: bytes, extension: str) -> float:
    """Exact for WAV; an estimate from size for compressed formats."""
    if extension == "wav":
        try:
            with wave.open(io.BytesIO(content)) as w:
                return _clamp(w.getnframes() / float(w.getframerate() or 8000))
        except (wave.Error, EOFError):
            pass
    return _clamp(len(content) * 8 / ASSUMED_BITRATE)


class PromptResolver:
    """Resolves a task's prompt once and remembers it."""

    def __init__(self) -> None:
        self._cache: dict[int, Prompt] = {}

    def cached(self, task_id: int) -> Prompt | None:
        return self._cache.get(task_id)

    async def for_task(
        self,
        session: AsyncSession,
        task_id: int,
        source: int | None,
        voice_file_id: str | None,
        text: str | None,
        params: dict[str, Any],
    ) -> Prompt:
        hit = self._cache.get(task_id)
        if hit is not None:
            return hit
        if voice_file_id and source in (1, 2, None):
            row = (
                await session.execute(
                    select(VoiceFile.content).where(VoiceFile.file_id == voice_file_id)
                )
            ).first()
            ext = voice_file_id.rsplit(".", 1)[-1].lower()
            duration = file_duration(row[0], ext) if row else MIN_PROMPT_S
            prompt = Prompt(voice_file_id, duration)
        else:
            rate = params.get("speakingRate")
            prompt = Prompt(
                f"tts:{task_id}", tts_duration(text or "", float(rate) if rate else None)
            )
        self._cache[task_id] = prompt
        return prompt
