"""What each call plays and for how long: an uploaded file's measured length, or speech
rendered ahead of dialing (each distinct per-callee text once, in the renderer pool); and the
confirmation a callee who opts out by key hears (docs/compliance.md), rendered likewise."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from voxcast.audio import AudioError, RenderPool, RenderRequest, choose_voice, fill
from voxcast.audio.catalog import VoiceRule
from voxcast.audio.voices import Voice
from voxcast.dialer import store
from voxcast.domain import scripts as sc
from voxcast.domain.enums import AI_KINDS, Source, TaskKind
from voxcast.domain.optout import confirmation_text, script_lan
from voxcast.domain.task_settings import from_params
from voxcast.ports import Prompt
from voxcast.storage.models import Task

log = logging.getLogger("voxcast.prompts")

MEMO_LIMIT = 100_000
SILENCE = "silence:"
_DIGIT_RUN = re.compile(r"\d{2,}")


#: the pause written between OTP digits, per language: each front end must read "1、2" as
#: two digits (Kokoro's Japanese front end reads "12" as "twelve" and wants the ideographic
#: comma; espeak-ng, piper and festival read ", " as a pause)
DIGIT_SEPARATOR = {"JP": "、"}


def speak_digits(text: str, lan: str = "") -> str:
    """Voice OTP rule: every run of two or more digits is read digit by digit, with a short
    pause between digits ("code 1264" → "code 1, 2, 6, 4"; Japanese "1、2、6、4")."""
    separator = DIGIT_SEPARATOR.get(lan.upper(), ", ")
    return _DIGIT_RUN.sub(lambda m: separator.join(m.group(0)), text)


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
    #: with an optOutKey: the confirmation's text and voice, and once rendered, its prompt
    opt_out: tuple[str, Voice] | None = None
    opt_out_prompt: Prompt | None = None
    #: a robot's lines rendered before its first call (its script's lines without variables)
    lines: tuple[str, ...] = ()

    def text_for(self, info: dict[str, Any] | None) -> str:
        text = fill(self.template or "", info or {})
        if not self.digits:
            return text
        return speak_digits(text, self.voice.lan if self.voice is not None else "")


@dataclass(frozen=True)
class Preparation:
    """A task's prompt as read from the database, and the distinct texts it will speak."""

    task_id: int
    prompt: TaskPrompt
    texts: tuple[str, ...]


class PromptResolver:
    """Prepares tasks' prompts before their first call and resolves each call's prompt."""

    def __init__(self, pool: RenderPool) -> None:
        self.pool = pool
        self._tasks: dict[int, TaskPrompt] = {}
        # text and voice → prompt, so a call does not touch the disk cache again
        self._rendered: dict[tuple[str, Voice], Prompt] = {}
        # texts being rendered: the calls of a task's first second all ask for the same one
        # text, and wait for the one rendering instead of each reading the cache in a thread
        self._rendering: dict[tuple[str, Voice], asyncio.Future[Prompt]] = {}

    async def _describe(self, session: store.Session, task: Task) -> TaskPrompt:
        prompt = await self._describe_prompt(session, task)
        settings = from_params(task.params)
        if settings.opt_out_key is not None:
            prompt.opt_out = await self._confirmation(session, task, prompt)
        return prompt

    async def _confirmation(
        self, session: store.Session, task: Task, prompt: TaskPrompt
    ) -> tuple[str, Voice]:
        """The opt-out confirmation in the prompt's own voice; a task playing a file gets the
        voice of its `lan` (English without one), as a TTS task would."""
        given = from_params(task.params)
        lan = task.lan or given.prompt.voice_language
        voice = prompt.voice
        if voice is None:
            rules = await store.voice_rules(session, task.account_id)
            try:
                voice = choose_voice(lan or "EN", given.prompt.accent, rules=rules)
            except AudioError as err:
                raise PromptError(f"opt-out confirmation: {err}") from None
        else:
            lan = voice.lan
        return confirmation_text(given.opt_out_text, lan), voice

    async def _describe_prompt(self, session: store.Session, task: Task) -> TaskPrompt:
        given = from_params(task.params).prompt
        if task.source in (Source.UPLOADED, Source.UPLOAD_NOW) or (task.kind == TaskKind.MESSAGE):
            found, duration_ms = await store.voice_file_ms(session, task.voice_file_id)
            if not found:
                raise PromptError(f"voice file {task.voice_file_id} does not exist")
            return TaskPrompt(
                file_ref=f"file:{task.voice_file_id}", file_seconds=duration_ms / 1000
            )
        if task.kind in (TaskKind.PREVIEW, TaskKind.SIP_CALL):
            # a preview task plays nothing: the answered callee goes straight to an agent;
            # a click-to-call's callee is bridged to the phone that placed it
            return TaskPrompt(file_ref=SILENCE, file_seconds=0.0)
        rules = await store.voice_rules(session, task.account_id)
        if task.kind in AI_KINDS:
            return await self._robot_prompt(session, task, rules)
        try:
            chosen = choose_voice(
                task.lan or given.voice_language,
                given.accent,
                given.gender,
                given.speaking_rate,
                rules=rules,
            )
        except AudioError as err:
            raise PromptError(str(err)) from None
        return TaskPrompt(template=task.text or "", voice=chosen, digits=task.kind == TaskKind.CODE)

    async def _robot_prompt(
        self, session: store.Session, task: Task, rules: list[VoiceRule]
    ) -> TaskPrompt:
        """An AI task's voice: its script's `language` (the task's `lan` when the script has
        none, English without either) with the task's gender, accent and rate. The call plays
        nothing by itself; the script's lines without variables are rendered ahead."""
        given = from_params(task.params).prompt
        document = None
        if task.script_id is not None:
            document = await store.script_document(session, task.account_id, task.script_id)
        script = None if document is None else sc.parse(document)
        language = script.language if script is not None else None
        lan = script_lan(language) if language else task.lan or given.voice_language or "EN"
        # a script in "en-GB" speaks with that accent unless the task names one
        accent = given.accent if given.accent not in (None, "") else language
        try:
            voice = choose_voice(lan, accent, given.gender, given.speaking_rate, rules=rules)
        except AudioError as err:
            where = f"script {task.script_id}'s language" if language else "lan"
            raise PromptError(f"{where}: {err}") from None
        if script is None:
            # a robot task without a script greets and hangs up
            return TaskPrompt(template="Hello.", voice=voice)
        fixed = tuple(t for t in sc.spoken_texts(script) if not sc.VARIABLE.search(t))
        return TaskPrompt(file_ref=SILENCE, voice=voice, lines=fixed)

    async def read(self, session: store.Session, task: Task) -> Preparation:
        """What preparing `task` will render, read from the database (raises PromptError)."""
        prompt = await self._describe(session, task)
        texts: tuple[str, ...] = ()
        if prompt.template is not None and prompt.voice is not None:
            infos = await store.callee_infos(session, task.id)
            texts = tuple(dict.fromkeys(prompt.text_for(i) for i in infos)) or (
                prompt.text_for(None),
            )
        return Preparation(task.id, prompt, texts)

    async def prepare(self, preparation: Preparation) -> None:
        """Render every distinct text of the task (raises PromptError with the reason). Call
        it outside any transaction: synthesis takes seconds on a busy machine, and an open
        transaction on SQLite would hold the one write lock for all that time."""
        prompt = preparation.prompt
        if preparation.texts and prompt.voice is not None:
            voice = prompt.voice
            try:
                await self.pool.render_many(RenderRequest(t, voice) for t in preparation.texts)
            except AudioError as err:
                raise PromptError(f"text-to-speech failed: {err}") from None
        if prompt.lines and prompt.voice is not None:
            try:
                await self.pool.render_many(RenderRequest(t, prompt.voice) for t in prompt.lines)
            except AudioError as err:
                raise PromptError(f"text-to-speech of the script failed: {err}") from None
        if prompt.opt_out is not None:
            try:
                await self._confirmation_prompt(prompt)
            except AudioError as err:
                raise PromptError(
                    f"text-to-speech of the opt-out confirmation failed: {err}"
                ) from None
        self._tasks[preparation.task_id] = prompt

    async def _confirmation_prompt(self, prompt: TaskPrompt) -> Prompt | None:
        if prompt.opt_out is None:
            return None
        if prompt.opt_out_prompt is None:
            text, voice = prompt.opt_out
            rendered = await self.pool.render(text, voice)
            prompt.opt_out_prompt = Prompt(f"tts:{rendered.key}", rendered.duration_s)
        return prompt.opt_out_prompt

    async def opt_out_for_call(self, task_id: int) -> Prompt | None:
        """What a callee who presses the task's optOutKey hears (None: the task has none)."""
        return await self._confirmation_prompt(self._tasks[task_id])

    def knows(self, task_id: int) -> bool:
        return task_id in self._tasks

    async def load(self, session: store.Session, task_id: int) -> None:
        """Learn a task another worker prepared (its texts are in the shared cache)."""
        task = await store.task(session, task_id)
        if task is None:
            raise PromptError(f"task {task_id} does not exist")
        self._tasks[task_id] = await self._describe(session, task)

    async def speech(self, task_id: int, text: str) -> Prompt:
        """`text` in the task's voice (the robot's lines), rendered now unless cached."""
        voice = self._tasks[task_id].voice
        assert voice is not None, "a task that speaks has a voice"
        return await self._render(text, voice)

    async def _render(self, text: str, voice: Voice) -> Prompt:
        memo_key = (text, voice)
        hit = self._rendered.get(memo_key)
        if hit is not None:
            return hit
        pending = self._rendering.get(memo_key)
        if pending is None:
            pending = asyncio.ensure_future(self._render_once(memo_key))
            self._rendering[memo_key] = pending
            pending.add_done_callback(lambda done: self._rendered_now(memo_key, done))
        # one waiter cancelled (its call hung up) leaves the rendering to the others
        return await asyncio.shield(pending)

    async def _render_once(self, memo_key: tuple[str, Voice]) -> Prompt:
        rendered = await self.pool.render(*memo_key)
        return Prompt(f"tts:{rendered.key}", rendered.duration_s)

    def _rendered_now(self, memo_key: tuple[str, Voice], done: asyncio.Future[Prompt]) -> None:
        self._rendering.pop(memo_key, None)
        if done.cancelled() or done.exception() is not None:
            return  # the waiters had the error; the next call tries again
        if len(self._rendered) >= MEMO_LIMIT:
            self._rendered.pop(next(iter(self._rendered)))
        self._rendered[memo_key] = done.result()

    async def for_call(self, task_id: int, info: dict[str, Any] | None) -> Prompt:
        """The prompt of one call; speech missing from the cache is rendered now."""
        prompt = self._tasks[task_id]
        if prompt.file_ref is not None:
            return Prompt(prompt.file_ref, prompt.file_seconds)
        assert prompt.voice is not None
        return await self._render(prompt.text_for(info), prompt.voice)
