"""What each call plays and for how long: an uploaded file's measured length, or speech
rendered ahead of dialing (each distinct per-callee text once, in the renderer pool)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.audio import AudioError, RenderPool, RenderRequest, choose_voice, fill
from voxcast.audio.voices import Voice
from voxcast.domain.enums import Source, TaskKind
from voxcast.ports import Prompt
from voxcast.storage.models import Callee, Task, VoiceFile

log = logging.getLogger("voxcast.prompts")

MEMO_LIMIT = 100_000
SILENCE = "silence:"
_DIGIT_RUN = re.compile(r"\d{2,}")


def speak_digits(text: str) -> str:
    """Voice OTP rule: every run of two or more digits is read digit by digit, with a short
    pause between digits ("code 1264" → "code 1, 2, 6, 4")."""
    return _DIGIT_RUN.sub(lambda m: ", ".join(m.group(0)), text)


class PromptError(Exception):
    """A task whose prompt cannot be prepared; the reason is shown in its detail."""


@dataclass
class TaskPrompt:
    """A task's prompt once prepared: a file, or a TTS template and its voice."""

    file_ref: str | None = None
    file_seconds: float = 0.0
    template: str | None = None
    voice: Voice | None = None
    digits: bool = False

    def text_for(self, info: dict[str, Any] | None) -> str:
        text = fill(self.template or "", info or {})
        return speak_digits(text) if self.digits else text


class PromptResolver:
    """Prepares tasks' prompts before their first call and resolves each call's prompt."""

    def __init__(self, pool: RenderPool) -> None:
        self.pool = pool
        self._tasks: dict[int, TaskPrompt] = {}
        # text and voice → prompt, so a call does not touch the disk cache again
        self._rendered: dict[tuple[str, Voice], Prompt] = {}

    async def _describe(self, session: AsyncSession, task: Task) -> TaskPrompt:
        params = task.params or {}
        if task.source in (Source.UPLOADED, Source.UPLOAD_NOW) or (task.kind == TaskKind.MESSAGE):
            row = (
                await session.execute(
                    select(VoiceFile.duration_ms).where(VoiceFile.file_id == task.voice_file_id)
                )
            ).first()
            if row is None:
                raise PromptError(f"voice file {task.voice_file_id} does not exist")
            return TaskPrompt(
                file_ref=f"file:{task.voice_file_id}", file_seconds=(row[0] or 0) / 1000
            )
        if task.kind == TaskKind.PREVIEW:
            # a preview task plays nothing: the answered callee goes straight to an agent
            return TaskPrompt(file_ref=SILENCE, file_seconds=0.0)
        if task.kind == TaskKind.AI:
            # no speech template engine yet: an AI task plays a short greeting in English
            voice = choose_voice("EN")
            return TaskPrompt(template="Hello.", voice=voice)
        try:
            voice = choose_voice(
                task.lan or params.get("lan") or params.get("language"),
                params.get("accent"),
                params.get("ssmlGender"),
                params.get("speakingRate"),
            )
        except AudioError as err:
            raise PromptError(str(err)) from None
        return TaskPrompt(template=task.text or "", voice=voice, digits=task.kind == TaskKind.CODE)

    async def prepare(self, session: AsyncSession, task: Task) -> None:
        """Render every distinct text of the task (raises PromptError with the reason)."""
        prompt = await self._describe(session, task)
        if prompt.template is not None and prompt.voice is not None:
            infos = (
                await session.scalars(
                    select(Callee.info).where(Callee.task_id == task.id).order_by(Callee.seq)
                )
            ).all()
            texts = dict.fromkeys(prompt.text_for(i) for i in infos) or {prompt.text_for(None)}
            voice = prompt.voice
            try:
                await self.pool.render_many(RenderRequest(t, voice) for t in texts)
            except AudioError as err:
                raise PromptError(f"text-to-speech failed: {err}") from None
        self._tasks[task.id] = prompt

    def knows(self, task_id: int) -> bool:
        return task_id in self._tasks

    async def load(self, session: AsyncSession, task_id: int) -> None:
        """Learn a task another worker prepared (its texts are in the shared cache)."""
        task = await session.get(Task, task_id)
        if task is None:
            raise PromptError(f"task {task_id} does not exist")
        self._tasks[task_id] = await self._describe(session, task)

    async def for_call(self, task_id: int, info: dict[str, Any] | None) -> Prompt:
        """The prompt of one call; speech missing from the cache is rendered now."""
        prompt = self._tasks[task_id]
        if prompt.file_ref is not None:
            return Prompt(prompt.file_ref, prompt.file_seconds)
        assert prompt.voice is not None
        text = prompt.text_for(info)
        memo_key = (text, prompt.voice)
        hit = self._rendered.get(memo_key)
        if hit is None:
            rendered = await self.pool.render(text, prompt.voice)
            hit = Prompt(f"tts:{rendered.key}", rendered.duration_s)
            if len(self._rendered) >= MEMO_LIMIT:
                self._rendered.pop(next(iter(self._rendered)))
            self._rendered[memo_key] = hit
        return hit
