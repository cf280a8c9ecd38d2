"""The robot on a call: the call's events go into the script's `Dialogue`, its commands come
back out onto the call (say, hush, hand over to agents, hang up), with the callee's turns
through the recognizer and the intent rules (and the LLM, when one is configured). Any
carrier, the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from voxcast import compliance
from voxcast.audio.hearing.amd import Verdict, machine_words
from voxcast.audio.hearing.asr import Recognition, RecognizerPool, recognizer_from_env
from voxcast.audio.hearing.grammar import GrammarPool, grammar_recognizer_from_env
from voxcast.dialer import screening, store
from voxcast.dialer.context import Claimed, TaskContext
from voxcast.dialer.prompts import PromptResolver
from voxcast.domain import aivoice_tasks as ai
from voxcast.domain import grammars as gr
from voxcast.domain import scripts as sc
from voxcast.domain.enums import AI_KINDS
from voxcast.ports import (
    AgentAnswered,
    AmdDecided,
    Answered,
    BargedIn,
    Call,
    CalleeSaid,
    CalleeSpeaking,
    CallEvent,
    Clock,
    Conversation,
    Dtmf,
    HangupBy,
    HungUp,
    Prompt,
    PromptDone,
    Transfer,
)
from voxcast.robot import dialogue as dl
from voxcast.robot.llm import LlmIntentClassifier, classifier_from_settings
from voxcast.runtime import Runtime

log = logging.getLogger("voxcast.robot")

#: what the callee's words are heard as when no recognizer could hear them (busy, timed out,
#: failed): no match (the node's retry or noMatch branch; keys still work)
NOT_HEARD = ""
#: the transcriber's answers that send a turn to the grammar recognizer instead
TURNED_AWAY = ("busy", "timeout")
#: the callee's turn ends after this much silence (the issue's "about 700 ms")
TURN_END_MS = 700


@dataclass
class Hearing:
    """What a conversation needs besides the call: the recognizer's bounded pool, the grammar
    recognizer's (closed questions, and the turns the first has no room for) and, when
    configured, the LLM step of intent recognition."""

    pool: RecognizerPool
    llm: LlmIntentClassifier | None = None
    grammar: GrammarPool | None = None


Render = Callable[[str], Awaitable[Prompt]]
#: the transfer to one agent group of the call's app, by its id; None: the app has no such group
TransferTo = Callable[[int], Awaitable[Transfer | None]]


def carrier_conversation(turn_end_ms: int = TURN_END_MS) -> Conversation:
    """What a robot asks the carrier for: utterances cut at half the turn's silence."""
    return Conversation(end_of_turn_ms=turn_end_ms // 2)


@dataclass
class _Turn:
    """The callee's turn while it may still go on: its audio so far (the carrier's utterances,
    cut at pauses), when the last one ended, and the recognizer already at work on it."""

    audio: bytes
    ended_ms: int
    heard: asyncio.Future[str]


@dataclass
class _Said:
    """Prompts said and their ends seen: `PromptDone` reaches the dialogue only for the prompt
    said last (a stopped or replaced one ends too, later than the dialogue moved on)."""

    said: int = 0
    done: int = 0


class RobotCall:
    """One robot call. `run(call)` yields the call's own events, unchanged, for the dialer's
    record, while it carries the script out; `dialogue.record` is the conversation's.

    Turns end after `turn_end_ms` of silence, but the carrier is asked to cut the callee's
    speech at half that pause (`conversation()`): the recognizer starts on the turn while the
    rest of the silence runs, so its answer is mostly ready when the turn is over. Speech
    within the silence continues the turn: its audio is joined and heard again."""

    def __init__(
        self,
        dialogue: dl.Dialogue,
        hearing: Hearing,
        render: Render,
        clock: Clock,
        *,
        language: str | None = None,
        opt_out: Callable[[], Awaitable[None]] | None = None,
        transfer_to: TransferTo | None = None,
        turn_end_ms: int = TURN_END_MS,
        screen_machines: bool = False,
    ) -> None:
        self.dialogue = dialogue
        self.hearing = hearing
        self.render = render
        self.clock = clock
        self.language = language
        #: the spoken opt-out: puts the number on the do-not-call list
        self.opt_out = opt_out
        #: the script's `transfer`: without it nobody takes the call (TRANSFER_ARTIFICIAL)
        self.transfer_to = transfer_to
        self.turn_end_ms = turn_end_ms
        #: answering-machine detection is on: besides the carrier's cadence verdict, the
        #: callee's first turn is checked for a greeting's words ("leave a message")
        self.screen_machines = screen_machines
        self._first_turn = True
        #: the carrier cuts the callee's speech at this pause; the rest of the turn's silence
        #: is held here
        self.pause_ms = carrier_conversation(turn_end_ms).end_of_turn_ms
        self._turn: _Turn | None = None
        self._turn_gen = 0
        self._call: Call | None = None
        self._inbox: asyncio.Queue[CallEvent | dl.Event | None] = asyncio.Queue()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._said = _Said()
        self._listen_gen = 0
        self._start = 0.0
        self._ended = False

    def conversation(self) -> Conversation:
        """What the call's `DialRequest` asks the carrier for."""
        return carrier_conversation(self.turn_end_ms)

    def _ms(self) -> int:
        return int((self.clock.monotonic() - self._start) * 1000)

    async def run(self, call: Call) -> AsyncIterator[CallEvent]:
        self._call = call
        self._start = self.clock.monotonic()
        self._spawn(self._pump(call))
        try:
            while True:
                item = await self._inbox.get()
                if item is None:
                    return
                if isinstance(item, dl.EVENTS):
                    await self._feed(item)
                    continue
                event: CallEvent = item  # type: ignore[assignment]
                await self._on_call_event(event)
                yield event
        finally:
            self._ended = True
            for task in list(self._tasks):
                task.cancel()

    async def _pump(self, call: Call) -> None:
        try:
            async for event in call.events():
                self._inbox.put_nowait(event)
        finally:
            self._inbox.put_nowait(None)

    # -- the call's events into the dialogue ------------------------------------------------
    async def _on_call_event(self, event: CallEvent) -> None:
        now = self._ms()
        if isinstance(event, Answered):
            await self._feed(dl.CallAnswered(now))
        elif isinstance(event, PromptDone):
            self._said.done += 1
            if self._said.done == self._said.said:
                await self._feed(dl.PromptFinished(now))
        elif isinstance(event, CalleeSpeaking):
            self._listen_gen += 1  # the silence timer no longer counts
            self._turn_gen += 1  # nor the pause that might have ended a turn
            await self._feed(dl.SpeechStarted(now))
        elif isinstance(event, BargedIn):
            await self._feed(dl.BargeIn(now))
        elif isinstance(event, CalleeSaid):
            self._paused(event.audio, now)
        elif isinstance(event, Dtmf):
            self._listen_gen += 1
            await self._feed(dl.DtmfPressed(now, event.digit))
        elif isinstance(event, AmdDecided) and event.result.verdict is Verdict.MACHINE:
            self._first_turn = False  # the voicemail branch runs already
            await self._feed(dl.MachineDetected(now))
        elif isinstance(event, AgentAnswered) and self._transferring():
            await self._feed(dl.TransferEnded(now, taken=True))
        elif isinstance(event, HungUp):
            if self._transferring() and event.by is HangupBy.US:
                # the search ended without an agent (its wait ran out): nobody took it
                self._ended = True
                await self._feed(dl.TransferEnded(now, taken=False))
            await self._feed(dl.CallEnded(now, event.by))
            self._ended = True

    def _paused(self, audio: bytes, now: int) -> None:
        """The callee paused: hear the turn so far now, and end it if the pause lasts."""
        if self._turn is not None:  # they went on talking within the turn's silence
            audio = self._turn.audio + audio
        self._turn_gen += 1
        heard = asyncio.ensure_future(self._recognize(audio))
        self._tasks.add(heard)
        heard.add_done_callback(self._tasks.discard)
        self._turn = _Turn(audio, now, heard)
        self._spawn(self._end_turn(self._turn_gen))

    async def _end_turn(self, gen: int) -> None:
        await self.clock.sleep((self.turn_end_ms - self.pause_ms) / 1000)
        turn = self._turn
        if gen != self._turn_gen or turn is None:
            return  # they spoke again: the turn goes on
        self._turn = None
        text = await turn.heard
        first, self._first_turn = self._first_turn, False
        if first and self.screen_machines and machine_words(text):
            # cadence took a short greeting for a person: its words say otherwise
            log.info("the first words were a voicemail greeting: %r", text)
            self._inbox.put_nowait(dl.MachineDetected(turn.ended_ms))
            return
        self._inbox.put_nowait(dl.SpeechEnded(turn.ended_ms, text))

    def _transferring(self) -> bool:
        return self.dialogue.state is dl.State.TRANSFERRING

    async def _recognize(self, audio: bytes) -> str:
        # the node the turn answers: the grammar is the one of the question asked
        node = self.dialogue.node
        grammar = self._grammar(node)
        closed = self.dialogue.script.grammar_at(node) if node is not None else None
        heard: Recognition | None = None
        if grammar is not None and closed is not None and node is not None and node.grammar_first:
            heard = await grammar.recognize(audio, closed)
            if not (heard.ok and heard.text):
                heard, grammar = None, None  # nothing the grammar knows: the transcriber may
        if heard is None:
            heard = await self.hearing.pool.recognize(audio, language=self.language)
            if heard.status in TURNED_AWAY and grammar is not None and closed is not None:
                log.info("transcriber %s: the grammar recognizer hears the turn", heard.status)
                heard = await grammar.recognize(audio, closed)
        if not heard.ok:
            log.info("the callee's turn went unheard: recognizer %s %s", heard.status, heard.error)
            return NOT_HEARD
        return heard.text

    def _grammar(self, node: sc.Node | None) -> GrammarPool | None:
        """The grammar recognizer's pool when it can hear this call (English) on `node`."""
        pool = self.hearing.grammar
        if pool is None or node is None or not gr.hears(self.dialogue.script.language):
            return None
        return pool

    async def _classify(self, command: dl.Classify) -> None:
        intent: str | None = None
        if self.hearing.llm is not None:
            match = await self.hearing.llm.classify(command.transcript, command.candidates)
            intent = match.intent if match is not None else None
        self._inbox.put_nowait(dl.Classified(self._ms(), intent))

    async def _silence_after(self, gen: int, timeout_ms: int) -> None:
        await self.clock.sleep(timeout_ms / 1000)
        if gen == self._listen_gen:
            self._inbox.put_nowait(dl.SilenceTimeout(self._ms()))

    # -- the dialogue's commands onto the call ----------------------------------------------
    async def _feed(self, event: dl.Event) -> None:
        try:
            commands = self.dialogue.handle(event)
        except dl.DialogueError:
            log.exception("the robot's dialogue refused %s; hanging up", event)
            commands = [dl.HangUp()]
        for command in commands:
            await self._do(command)

    async def _do(self, command: dl.Command) -> None:
        call = self._call
        assert call is not None
        if isinstance(command, dl.PlayPrompt):
            self._listen_gen += 1
            prompt = await self.render(command.text or "")
            if not self._ended:
                self._said.said += 1
                call.say(prompt, interruptible=command.interruptible)
                self.dialogue.saying(self._ms())
        elif isinstance(command, dl.StopPlayback):
            call.hush()
        elif isinstance(command, dl.Listen):
            self._listen_gen += 1
            self._spawn(self._silence_after(self._listen_gen, command.timeout_ms))
        elif isinstance(command, dl.Classify):
            self._spawn(self._classify(command))
        elif isinstance(command, dl.TransferToAgents):
            await self._hand_over(call, command.agent_group_id)
        elif isinstance(command, dl.OptOut):
            if self.opt_out is not None:
                await self.opt_out()
        elif isinstance(command, dl.HangUp) and not self._ended:
            await call.hangup()
        # SendSms, TagCustomer, SetIntentLevel: the dialogue's record keeps them (the recorder
        # queues the record's texts with the call's record, once the call has ended)

    async def _hand_over(self, call: Call, group_id: int) -> None:
        """The callee to an agent of the group: the carrier reports the search, and
        `AgentAnswered` or its end without an agent ends the dialogue's transfer."""
        transfer = await self.transfer_to(group_id) if self.transfer_to is not None else None
        if self._ended:
            return
        if transfer is None:  # no such group of the call's app: nobody can take it
            self._inbox.put_nowait(dl.TransferEnded(self._ms(), taken=False))
            return
        self._listen_gen += 1  # no silence timer runs on: the robot no longer listens
        call.hand_over(transfer)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def summary(record: dl.DialogueRecord, script_id: int | None = None) -> dict[str, Any]:
    """The conversation as the call record keeps it (JSON; the push and the record queries
    give it the vendor's names)."""
    return {
        "script_id": script_id,
        "turns": [
            {
                "speaker": t.speaker.value,
                "text": t.text,
                "start_ms": t.start_ms,
                "end_ms": t.end_ms,
                "node": t.node,
                "intent": t.intent,
            }
            for t in record.turns
        ],
        "chat_rounds": record.chat_rounds,
        "intent_level": record.intent_level,
        "tags": list(record.tags),
        "sms": list(record.sms),
        "result_status": record.result_status.value if record.result_status else None,
        "hangup_by": record.hangup_by.value if record.hangup_by else None,
        "voicemail": record.voicemail,
        "opted_out": record.opted_out,
        "chat_duration_ms": record.chat_duration_ms,
    }


#: turns that may wait for the recognizer beyond those it is working on (more: "busy")
ASR_QUEUE = 8


class Robots:
    """The dialer's robots: each AI task's script (read once), and the hearing every
    conversation of the process shares (its model loaded at the first one, off the loop)."""

    def __init__(self, rt: Runtime, prompts: PromptResolver) -> None:
        self.rt = rt
        self.prompts = prompts
        self._scripts: dict[int, sc.Script] = {}
        self._hearing: Hearing | None = None
        self._loading: asyncio.Lock = asyncio.Lock()
        self._ahead: set[asyncio.Future[None]] = set()

    async def for_call(
        self, ctx: TaskContext, c: Claimed, transfer_to: TransferTo | None = None
    ) -> RobotCall | None:
        """The robot of one call, or None when the task has no script to follow;
        `transfer_to` gives its script's transfers their agents."""
        if ctx.kind not in AI_KINDS or ctx.script_id is None:
            return None
        script = await self._script(ctx)
        hearing = await self.hearing()
        info = c.info or {}
        variables = {k: str(v) for k, v in info.items() if isinstance(v, (str, int, float))}
        variables.update(ai.properties_of(info))
        dialogue = dl.Dialogue(script, variables, llm=hearing.llm is not None)
        self._render_ahead(ctx.id, script, dialogue)

        async def render(text: str) -> Prompt:
            return await self.prompts.speech(ctx.id, text)

        async def opt_out() -> None:
            await screening.opt_out(self.rt, ctx, c, source=compliance.VOICE)

        return RobotCall(
            dialogue,
            hearing,
            render,
            self.rt.clock,
            language=script.language,
            opt_out=opt_out,
            transfer_to=transfer_to,
            screen_machines=ctx.settings.amd,
        )

    def _render_ahead(self, task_id: int, script: sc.Script, dialogue: dl.Dialogue) -> None:
        """This callee's own lines (those with variables; the others were rendered with the
        task) rendered while the phone rings, so the first words after the answer do not wait
        for the TTS engine."""
        for text in sc.spoken_texts(script):
            if sc.VARIABLE.search(text):
                job = asyncio.ensure_future(self._render_quietly(task_id, dialogue.fill(text)))
                self._ahead.add(job)
                job.add_done_callback(self._ahead.discard)

    async def _render_quietly(self, task_id: int, text: str) -> None:
        try:
            await self.prompts.speech(task_id, text)
        except Exception as exc:  # the line is rendered again when said, and fails the call then
            log.info("rendering a robot's line ahead failed: %s", exc)

    async def _script(self, ctx: TaskContext) -> sc.Script:
        found = self._scripts.get(ctx.id)
        if found is None:
            assert ctx.script_id is not None
            async with self.rt.readonly() as session:
                document = await store.script_document(session, ctx.account_id, ctx.script_id)
            if document is None:
                raise LookupError(f"script {ctx.script_id} of task {ctx.id} does not exist")
            found = self._scripts[ctx.id] = sc.parse(document)
        return found

    async def hearing(self) -> Hearing:
        async with self._loading:
            if self._hearing is None:
                recognizer = await asyncio.to_thread(recognizer_from_env)
                closed = await asyncio.to_thread(grammar_recognizer_from_env)
                self._hearing = Hearing(
                    RecognizerPool(recognizer, queue=ASR_QUEUE),
                    classifier_from_settings(self.rt.settings),
                    GrammarPool(closed) if closed is not None else None,
                )
            return self._hearing

    async def close(self) -> None:
        for job in list(self._ahead):
            job.cancel()
        if self._hearing is not None:
            self._hearing.pool.close()
            if self._hearing.grammar is not None:
                self._hearing.grammar.close()
            if self._hearing.llm is not None:
                await self._hearing.llm.aclose()
            self._hearing = None
