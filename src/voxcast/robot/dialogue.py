"""One AI call's conversation as a pure state machine over a script: fed events (answered,
prompt done, speech, keys, silence, answering machine, barge-in), it returns commands (play,
stop, listen, transfer, SMS, tag, intent level, opt out, hang up) and keeps the call's record.

Like h11's `_state.py`, one table says what each event does in each state (`TABLE`); an event
the table has no row for is a bug in the driver and raises `DialogueError`. The script decides
where a reaction leads (which node, which prompt), the table decides which reaction happens.

```
 RINGING ─answered─► PLAYING / PLAYING_LOCKED ─prompt done─► LISTENING ─speech─► HEARING
                        │ barge-in (PLAYING only) ──────────────────────────────────┘ │
                        └ keys: at once (PLAYING) or once the prompt ends (LOCKED)    │ speech ended
 SAYING: a `say` line, played whole, then the rest of its actions     UNDERSTANDING ◄─┘ (LLM asked)
 TRANSFERRING ─agent took it─► BRIDGED;  any state ─call ended / hang up─► ENDED
 opt-out heard (any state that acts on speech) ─► OPTING_OUT ─confirmation done─► ENDED
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import ClassVar

from voxcast.domain import optout
from voxcast.domain import scripts as sc
from voxcast.ports import HangupBy
from voxcast.robot.intent import FUZZY_THRESHOLD, match_intent

__all__ = [
    "TABLE",
    "BargeIn",
    "CallAnswered",
    "CallEnded",
    "Classified",
    "Classify",
    "Command",
    "Dialogue",
    "DialogueError",
    "DialogueRecord",
    "DtmfPressed",
    "Event",
    "HangUp",
    "Listen",
    "MachineDetected",
    "OptOut",
    "PlayPrompt",
    "PromptFinished",
    "Reaction",
    "ResultStatus",
    "SendSms",
    "SetIntentLevel",
    "SilenceTimeout",
    "Speaker",
    "SpeechEnded",
    "SpeechStarted",
    "State",
    "StopPlayback",
    "TagCustomer",
    "TransferEnded",
    "TransferToAgents",
    "Turn",
]


class DialogueError(ValueError):
    """An event the table has no row for in this state: a bug in the driver, never the callee."""


# -- events: what the driver tells the dialogue; at_ms is any monotonic millisecond clock -------


@dataclass(frozen=True)
class CallAnswered:
    at_ms: int


@dataclass(frozen=True)
class PromptFinished:
    """The prompt last asked for has played to its end (or was stopped)."""

    at_ms: int


@dataclass(frozen=True)
class SpeechStarted:
    """Voice activity began (it may still be a backchannel: barge-in is its own event)."""

    at_ms: int


@dataclass(frozen=True)
class SpeechEnded:
    """End of the callee's turn, with what the recogniser made of it ("" for nothing)."""

    at_ms: int
    transcript: str


@dataclass(frozen=True)
class BargeIn:
    """The callee has talked long enough over a prompt to interrupt it (not a backchannel)."""

    at_ms: int


@dataclass(frozen=True)
class DtmfPressed:
    at_ms: int
    digit: str


@dataclass(frozen=True)
class SilenceTimeout:
    """The `Listen` time passed with no speech."""

    at_ms: int


@dataclass(frozen=True)
class MachineDetected:
    """An answering machine, not a person, took the call."""

    at_ms: int


@dataclass(frozen=True)
class Classified:
    """The LLM's answer to `Classify`: an intent of those offered, or None."""

    at_ms: int
    intent: str | None


@dataclass(frozen=True)
class TransferEnded:
    """The agent group took the call (taken) or nobody did."""

    at_ms: int
    taken: bool


@dataclass(frozen=True)
class CallEnded:
    """The call is over for a reason outside the script: the callee hung up, a limit, an error."""

    at_ms: int
    by: HangupBy


Event = (
    CallAnswered
    | PromptFinished
    | SpeechStarted
    | SpeechEnded
    | BargeIn
    | DtmfPressed
    | SilenceTimeout
    | MachineDetected
    | Classified
    | TransferEnded
    | CallEnded
)
EVENTS: tuple[type[Event], ...] = (
    CallAnswered,
    PromptFinished,
    SpeechStarted,
    SpeechEnded,
    BargeIn,
    DtmfPressed,
    SilenceTimeout,
    MachineDetected,
    Classified,
    TransferEnded,
    CallEnded,
)


# -- commands: what the driver must do, in order ------------------------------------------------


@dataclass(frozen=True)
class PlayPrompt:
    """Say this (TTS text with the variables filled in, or a voice file); interruptible: the
    callee may barge in."""

    text: str | None
    voice_file_id: str | None
    interruptible: bool


@dataclass(frozen=True)
class StopPlayback:
    """Stop our outbound audio now, buffered audio included."""


@dataclass(frozen=True)
class Listen:
    """Wait this long for the callee to start talking, then report `SilenceTimeout`."""

    timeout_ms: int


@dataclass(frozen=True)
class Classify:
    """Rules found no intent: ask the LLM which of these the transcript is; answer `Classified`
    (None on a timeout or any failure)."""

    transcript: str
    candidates: Mapping[str, sc.Intent]


@dataclass(frozen=True)
class TransferToAgents:
    agent_group_id: int


@dataclass(frozen=True)
class SendSms:
    """The post-call SMS, variables filled in; sent once the call has ended."""

    text: str


@dataclass(frozen=True)
class TagCustomer:
    tag: str


@dataclass(frozen=True)
class SetIntentLevel:
    level: str


@dataclass(frozen=True)
class OptOut:
    """The callee asked not to be called again: put the number on the app's do-not-call list
    now (source `voice`), before the confirmation plays; no transfer and no SMS follow."""


@dataclass(frozen=True)
class HangUp:
    pass


Command = (
    PlayPrompt
    | StopPlayback
    | Listen
    | Classify
    | TransferToAgents
    | SendSms
    | TagCustomer
    | SetIntentLevel
    | OptOut
    | HangUp
)


# -- the record: what the AI call-record push needs ----------------------------------------------


class Speaker(StrEnum):
    """`callDetailList[].type` of the push."""

    PERSON = "PERSON"
    ROBOT = "ROBOT"


class ResultStatus(StrEnum):
    """`resultStatus` of the AI call-record push (api-catalog §6.3, supplement B.13)."""

    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    POWER_OFF = "POWER_OFF"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    REFUSED = "REFUSED"
    VACANT_NUMBER = "VACANT_NUMBER"
    CAN_NOT_CONNECT = "CAN_NOT_CONNECT"
    FROM_PHONE_ERROR = "FROM_PHONE_ERROR"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    CALL_LOSS = "CALL_LOSS"
    TRANSFER_ARTIFICIAL = "TRANSFER_ARTIFICIAL"


@dataclass
class Turn:
    """One line of the transcript; offsets in ms from the answer (the recording's start)."""

    speaker: Speaker
    text: str
    start_ms: int
    end_ms: int | None = None
    #: the node it was said on, and for the callee the intent recognised (None: not understood)
    node: str | None = None
    intent: str | None = None


@dataclass
class DialogueRecord:
    turns: list[Turn] = field(default_factory=list)
    #: answers of the callee the robot acted on (speech understood or not, keys)
    chat_rounds: int = 0
    intent_level: str | None = None
    tags: list[str] = field(default_factory=list)
    sms: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    #: set once answered: ANSWERED, or TRANSFER_ARTIFICIAL when a transfer found nobody
    result_status: ResultStatus | None = None
    hangup_by: HangupBy | None = None
    voicemail: bool = False
    agent_group_id: int | None = None
    answered_at_ms: int | None = None
    ended_at_ms: int | None = None
    #: the call ended by the callee's spoken opt-out (result_status stays ANSWERED: the
    #: vendor's resultStatus has no such value)
    opted_out: bool = False

    @property
    def chat_duration_ms(self) -> int:
        if self.answered_at_ms is None or self.ended_at_ms is None:
            return 0
        return self.ended_at_ms - self.answered_at_ms


# -- the table -----------------------------------------------------------------------------------


class State(Enum):
    RINGING = "ringing"
    PLAYING = "playing"  # a node's interruptible prompt
    PLAYING_LOCKED = "playing-locked"  # a node's prompt that must play to its end
    SAYING = "saying"  # a `say` action's line, played whole, before the rest of its list
    LISTENING = "listening"
    HEARING = "hearing"  # the callee is talking
    UNDERSTANDING = "understanding"  # the LLM was asked
    TRANSFERRING = "transferring"
    OPTING_OUT = "opting-out"  # the opt-out confirmation, played whole, then we hang up
    BRIDGED = "bridged"  # an agent has the call; the robot is done
    ENDED = "ended"


class Reaction(Enum):
    IGNORE = "ignore"
    ANSWER = "answer"  # start on the script's start node
    NOTE_SPEECH = "note-speech"  # remember when the callee started talking
    START_HEARING = "start-hearing"
    BARGE = "barge"  # stop the prompt and hear the callee out
    OVERHEARD = "overheard"  # speech over a prompt: logged, acted on when the prompt ends
    LOG_SPEECH = "log-speech"  # logged only: nobody is asking
    OVERHEARD_OPT_OUT = "overheard-opt-out"  # logged; acted on after the line if an opt-out
    HEARD = "heard"  # understand the answer and act on it
    KEY_STOP = "key-stop"  # stop the prompt and act on the key
    KEY_LATER = "key-later"  # act on the key when the prompt has played
    KEY = "key"
    KEY_LOG = "key-log"  # noted in the record, nothing else
    PROMPT_DONE = "prompt-done"
    SAY_DONE = "say-done"
    SILENCE = "silence"
    MACHINE = "machine"  # the voicemail branch
    CLASSIFIED = "classified"
    TRANSFER_DONE = "transfer-done"
    OPTED_OUT = "opted-out"  # the confirmation has played: hang up
    END = "end"


S, R = State, Reaction
_LIVE = (
    S.PLAYING,
    S.PLAYING_LOCKED,
    S.SAYING,
    S.LISTENING,
    S.HEARING,
    S.UNDERSTANDING,
    S.TRANSFERRING,
    S.OPTING_OUT,
    S.BRIDGED,
)


def _table() -> dict[State, dict[type[Event], Reaction]]:
    rows: dict[State, dict[type[Event], Reaction]] = {
        S.RINGING: {CallAnswered: R.ANSWER, CallEnded: R.END},
        S.PLAYING: {
            SpeechStarted: R.NOTE_SPEECH,
            BargeIn: R.BARGE,
            SpeechEnded: R.OVERHEARD,
            DtmfPressed: R.KEY_STOP,
            PromptFinished: R.PROMPT_DONE,
            MachineDetected: R.MACHINE,
        },
        S.PLAYING_LOCKED: {
            SpeechStarted: R.NOTE_SPEECH,
            BargeIn: R.IGNORE,  # not interruptible means not interruptible
            SpeechEnded: R.OVERHEARD,
            DtmfPressed: R.KEY_LATER,
            PromptFinished: R.PROMPT_DONE,
            MachineDetected: R.MACHINE,
        },
        S.SAYING: {
            SpeechStarted: R.NOTE_SPEECH,
            BargeIn: R.IGNORE,
            SpeechEnded: R.OVERHEARD_OPT_OUT,
            DtmfPressed: R.KEY_LOG,
            PromptFinished: R.SAY_DONE,
            MachineDetected: R.MACHINE,
        },
        S.LISTENING: {
            SpeechStarted: R.START_HEARING,
            BargeIn: R.IGNORE,
            SpeechEnded: R.HEARD,  # a recogniser that reports whole turns only
            DtmfPressed: R.KEY,
            SilenceTimeout: R.SILENCE,
            MachineDetected: R.MACHINE,
        },
        S.HEARING: {
            SpeechStarted: R.IGNORE,
            BargeIn: R.IGNORE,
            SpeechEnded: R.HEARD,
            DtmfPressed: R.KEY,
            MachineDetected: R.MACHINE,
        },
        S.UNDERSTANDING: {
            SpeechStarted: R.NOTE_SPEECH,
            SpeechEnded: R.LOG_SPEECH,
            DtmfPressed: R.KEY,  # a key is surer than the model: the late answer is ignored
            Classified: R.CLASSIFIED,
            MachineDetected: R.MACHINE,
        },
        S.TRANSFERRING: {
            SpeechEnded: R.LOG_SPEECH,
            DtmfPressed: R.KEY_LOG,
            TransferEnded: R.TRANSFER_DONE,
        },
        S.OPTING_OUT: {
            # nothing the callee says or does changes it: the number is already listed
            SpeechEnded: R.LOG_SPEECH,
            DtmfPressed: R.KEY_LOG,
            MachineDetected: R.IGNORE,
            PromptFinished: R.OPTED_OUT,
        },
        S.BRIDGED: {},
        S.ENDED: dict.fromkeys(EVENTS, R.IGNORE),
    }
    for state in _LIVE:
        rows[state][CallEnded] = R.END
        # what may arrive late in any live state: the end of a prompt stopped by barge-in or a
        # key, a timer that fired as speech began, an answer nobody waits for any more
        for event in (
            PromptFinished,
            SilenceTimeout,
            Classified,
            SpeechStarted,
            SpeechEnded,
            BargeIn,
            DtmfPressed,
            MachineDetected,
        ):
            rows[state].setdefault(event, R.IGNORE)
    return rows


#: state → event type → reaction; `CallAnswered` twice or `TransferEnded` with no transfer has
#: no row and raises
TABLE = _table()


# -- the machine ---------------------------------------------------------------------------------


class Dialogue:
    """One call's conversation: `handle(event)` returns the commands to carry out, in order;
    `record` holds what the call-record push needs."""

    def __init__(
        self,
        script: sc.Script,
        variables: Mapping[str, str] | None = None,
        *,
        llm: bool = False,
        fuzzy_threshold: float = FUZZY_THRESHOLD,
    ) -> None:
        self.script = script
        self.variables = dict(variables or {})
        self.llm = llm
        self.fuzzy_threshold = fuzzy_threshold
        self.state = State.RINGING
        self.node: sc.Node | None = None
        self.record = DialogueRecord()
        self._retries_used = 0
        self._after_say: tuple[sc.Action, ...] = ()
        self._pending: SpeechEnded | DtmfPressed | None = None
        self._asking: Turn | None = None
        self._speech_from: int | None = None
        self._robot_turn: Turn | None = None
        self._now = 0
        self._out: list[Command] = []

    def handle(self, event: Event) -> list[Command]:
        reaction = TABLE[self.state].get(type(event))
        if reaction is None:
            raise DialogueError(f"{type(event).__name__} has no row in state {self.state.name}")
        self._now = event.at_ms
        self._out = []
        self._REACTIONS[reaction](self, event)
        return self._out

    def saying(self, at_ms: int) -> None:
        """The robot's current line began to play at `at_ms`: its turn starts then, not when
        the dialogue asked for it (rendering it and hearing the callee's words out come first)."""
        turn = self._robot_turn
        if turn is not None:
            turn.start_ms = max(turn.start_ms, self._offset(at_ms))

    # -- reactions -------------------------------------------------------------------------------

    def _ignore(self, event: Event) -> None:
        pass

    def _answer(self, event: Event) -> None:
        self.record.answered_at_ms = event.at_ms
        self.record.result_status = ResultStatus.ANSWERED
        self._enter(self.script.start)

    def _note_speech(self, event: Event) -> None:
        if self._speech_from is None:
            self._speech_from = event.at_ms

    def _start_hearing(self, event: Event) -> None:
        self._note_speech(event)
        self.state = State.HEARING

    def _barge(self, event: Event) -> None:
        self._note_speech(event)
        self._stop_playback()
        self.state = State.HEARING

    def _overheard(self, event: Event) -> None:
        assert isinstance(event, SpeechEnded)
        if self._person_turn(event) is not None:
            self._pending = event

    def _log_speech(self, event: Event) -> None:
        assert isinstance(event, SpeechEnded)
        self._person_turn(event)

    def _overheard_opt_out(self, event: Event) -> None:
        assert isinstance(event, SpeechEnded)
        turn = self._person_turn(event)
        if turn is None or not self.script.opt_out.enabled:
            return
        heard = {sc.OPT_OUT: self.script.opt_out.intent}
        if match_intent(event.transcript, heard, threshold=self.fuzzy_threshold) is not None:
            turn.intent = sc.OPT_OUT
            self._pending = event

    def _heard(self, event: Event) -> None:
        assert isinstance(event, SpeechEnded)
        if not event.transcript.strip():
            # noise the recogniser made nothing of counts as silence, bounded by the retries
            self._speech_from = None
            self._silence(event)
            return
        turn = self._person_turn(event)
        assert turn is not None
        candidates = self._candidates()
        found = match_intent(event.transcript, candidates, threshold=self.fuzzy_threshold)
        if found is not None:
            turn.intent = found.intent
            self._act_on(found.intent)
        elif self.llm and candidates:
            self._asking = turn
            self._out.append(Classify(event.transcript, candidates))
            self.state = State.UNDERSTANDING
        else:
            self._no_match()

    def _key_stop(self, event: Event) -> None:
        self._stop_playback()
        self._key(event)

    def _key_later(self, event: Event) -> None:
        assert isinstance(event, DtmfPressed)
        self.record.keys.append(event.digit)
        self._pending = event

    def _key(self, event: Event) -> None:
        assert isinstance(event, DtmfPressed)
        self.record.keys.append(event.digit)
        self._on_key(event.digit)

    def _key_log(self, event: Event) -> None:
        assert isinstance(event, DtmfPressed)
        self.record.keys.append(event.digit)

    def _prompt_done(self, event: Event) -> None:
        self._close_robot_turn()
        pending, self._pending = self._pending, None
        if isinstance(pending, DtmfPressed):
            self._on_key(pending.digit)
            return
        if isinstance(pending, SpeechEnded):
            # only an answer the rules are sure of: a backchannel ("uh-huh") over the prompt
            # must neither cost a retry nor wait for an LLM
            found = match_intent(
                pending.transcript, self._candidates(), threshold=self.fuzzy_threshold
            )
            if found is not None:
                for turn in reversed(self.record.turns):
                    if turn.speaker is Speaker.PERSON:
                        turn.intent = found.intent
                        break
                self._act_on(found.intent)
                return
        self._listen()

    def _say_done(self, event: Event) -> None:
        self._close_robot_turn()
        rest, self._after_say = self._after_say, ()
        if isinstance(self._pending, SpeechEnded):
            # an opt-out said over the line (the only speech SAYING keeps) wins over the rest
            self._act_on(sc.OPT_OUT)
            return
        self._run(rest)

    def _silence(self, event: Event) -> None:
        node = self._current()
        self._retry_or(node.silence)

    def _machine(self, event: Event) -> None:
        if self.state in (State.PLAYING, State.PLAYING_LOCKED, State.SAYING):
            self._stop_playback()
        self._pending = None
        self._speech_from = None
        self._after_say = ()
        self.record.voicemail = True
        self._run(self.script.voicemail)

    def _classified(self, event: Event) -> None:
        assert isinstance(event, Classified)
        asked, self._asking = self._asking, None
        if event.intent is not None and event.intent in self._candidates():
            if asked is not None:
                asked.intent = event.intent
            self._act_on(event.intent)
        else:
            self._no_match()

    def _transfer_done(self, event: Event) -> None:
        assert isinstance(event, TransferEnded)
        if event.taken:
            self.state = State.BRIDGED
            return
        self.record.result_status = ResultStatus.TRANSFER_ARTIFICIAL
        self._out.append(HangUp())
        self._finish(HangupBy.US)

    def _opted_out(self, event: Event) -> None:
        self._close_robot_turn()
        self._out.append(HangUp())
        self._finish(HangupBy.US)

    def _end(self, event: Event) -> None:
        assert isinstance(event, CallEnded)
        if self.state is State.TRANSFERRING:
            self.record.result_status = ResultStatus.TRANSFER_ARTIFICIAL
        self._finish(event.by)

    _REACTIONS: ClassVar[Mapping[Reaction, Callable[[Dialogue, Event], None]]] = {
        R.IGNORE: _ignore,
        R.ANSWER: _answer,
        R.NOTE_SPEECH: _note_speech,
        R.START_HEARING: _start_hearing,
        R.BARGE: _barge,
        R.OVERHEARD: _overheard,
        R.LOG_SPEECH: _log_speech,
        R.OVERHEARD_OPT_OUT: _overheard_opt_out,
        R.HEARD: _heard,
        R.KEY_STOP: _key_stop,
        R.KEY_LATER: _key_later,
        R.KEY: _key,
        R.KEY_LOG: _key_log,
        R.PROMPT_DONE: _prompt_done,
        R.SAY_DONE: _say_done,
        R.SILENCE: _silence,
        R.MACHINE: _machine,
        R.CLASSIFIED: _classified,
        R.TRANSFER_DONE: _transfer_done,
        R.OPTED_OUT: _opted_out,
        R.END: _end,
    }

    # -- the script ------------------------------------------------------------------------------

    def _current(self) -> sc.Node:
        assert self.node is not None, "the call has not been answered"
        return self.node

    def _candidates(self) -> dict[str, sc.Intent]:
        """The intents heard on the current node: the built-in opt-out (unless the script
        turns it off), its branches, then the global intents it leaves on."""
        return self.script.intents_at(self._current())

    def _act_on(self, intent: str) -> None:
        self.record.chat_rounds += 1
        if intent == sc.OPT_OUT:
            self._opt_out()
            return
        node = self._current()
        for branch in node.branches:
            if branch.intent == intent:
                self._run(branch.actions)
                return
        self._run(self.script.global_intents[intent])

    def _on_key(self, digit: str) -> None:
        node = self._current()
        self._speech_from = None
        if digit in node.dtmf:
            self.record.chat_rounds += 1
            self._run(node.dtmf[digit])
        else:
            self._no_match()

    def _no_match(self) -> None:
        self.record.chat_rounds += 1
        self._retry_or(self._current().no_match)

    def _retry_or(self, actions: tuple[sc.Action, ...]) -> None:
        node = self._current()
        if self._retries_used < node.retries:
            self._retries_used += 1
            self._play_node(node.retry_prompt or node.prompt)
        else:
            self._run(actions)

    def _opt_out(self) -> None:
        """List the number, then the confirmation whole (`OPTING_OUT` hangs up after it)."""
        self._pending = None
        self._after_say = ()
        self.record.opted_out = True
        self._out.append(OptOut())
        confirmation = self.script.opt_out.confirmation or sc.Prompt(
            text=optout.script_confirmation(self.script.language)
        )
        self._play(confirmation, interruptible=False)
        self.state = State.OPTING_OUT

    def _enter(self, node_id: str) -> None:
        self.node = self.script.nodes[node_id]
        self._retries_used = 0
        self._play_node(self.node.prompt)

    def _play_node(self, prompt: sc.Prompt | None) -> None:
        node = self._current()
        self._play(prompt, interruptible=node.interruptible)
        self.state = State.PLAYING if node.interruptible else State.PLAYING_LOCKED

    def _run(self, actions: tuple[sc.Action, ...]) -> None:
        for i, action in enumerate(actions):
            match action:
                case sc.Say(prompt):
                    if prompt is None:
                        continue
                    self._play(prompt, interruptible=False)
                    self._after_say = actions[i + 1 :]
                    self.state = State.SAYING
                    return
                case sc.Tag(tag):
                    if tag not in self.record.tags:
                        self.record.tags.append(tag)
                    self._out.append(TagCustomer(tag))
                case sc.SetIntentLevel(level):
                    self.record.intent_level = level
                    self._out.append(SetIntentLevel(level))
                case sc.SendSms(text):
                    filled = self.fill(text)
                    self.record.sms.append(filled)
                    self._out.append(SendSms(filled))
                case sc.Goto(node_id):
                    self._enter(node_id)
                    return
                case sc.Resume():
                    self._play_node(self._current().prompt)
                    return
                case sc.Transfer(group):
                    self.record.agent_group_id = group
                    self._out.append(TransferToAgents(group))
                    self.state = State.TRANSFERRING
                    return
                case sc.Hangup():
                    self._out.append(HangUp())
                    self._finish(HangupBy.US)
                    return
        # a validated script ends every list with a flow action; an unvalidated one hangs up
        self._out.append(HangUp())
        self._finish(HangupBy.US)

    # -- media and the record ----------------------------------------------------------------------

    def fill(self, text: str) -> str:
        """`text` with this call's variables (a missing one is nothing, never read out)."""
        return sc.VARIABLE.sub(lambda m: self.variables.get(m.group(1), ""), text)

    def _offset(self, at_ms: int) -> int:
        return at_ms - (self.record.answered_at_ms or 0)

    def _play(self, prompt: sc.Prompt | None, *, interruptible: bool) -> None:
        if prompt is None:
            prompt = sc.Prompt(text="")
        text = None if prompt.text is None else self.fill(prompt.text)
        self._out.append(PlayPrompt(text, prompt.voice_file_id, interruptible))
        node = self.node.id if self.node else None
        said = text if text is not None else f"[voice file {prompt.voice_file_id}]"
        self._robot_turn = Turn(Speaker.ROBOT, said, self._offset(self._now), node=node)
        self.record.turns.append(self._robot_turn)

    def _close_robot_turn(self) -> None:
        if self._robot_turn is not None:
            self._robot_turn.end_ms = self._offset(self._now)
            self._robot_turn = None

    def _stop_playback(self) -> None:
        self._out.append(StopPlayback())
        self._close_robot_turn()

    def _listen(self) -> None:
        self._out.append(Listen(self._current().listen_timeout_ms))
        self.state = State.LISTENING

    def _person_turn(self, event: SpeechEnded) -> Turn | None:
        """The callee's line, logged; None (and nothing logged) for an empty transcript."""
        start = self._speech_from if self._speech_from is not None else event.at_ms
        self._speech_from = None
        if not event.transcript.strip():
            return None
        turn = Turn(
            Speaker.PERSON,
            event.transcript.strip(),
            self._offset(start),
            self._offset(event.at_ms),
            node=self.node.id if self.node else None,
        )
        self.record.turns.append(turn)
        return turn

    def _finish(self, by: HangupBy) -> None:
        self._close_robot_turn()
        self.record.hangup_by = by
        self.record.ended_at_ms = self._now
        self.state = State.ENDED
