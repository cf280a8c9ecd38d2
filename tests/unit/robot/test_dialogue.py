"""The dialogue engine's rules one by one: barge-in and backchannels, prompts that cannot be
interrupted, keys on every node, retries, global intents a node turns off, the LLM step,
transfers, hang-ups, and the table that says which event does what in which state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.robot.reminder import (
    ASK_DATE,
    CUSTOMER,
    EXAMPLE,
    IDENTIFY,
    IDENTIFY_AGAIN,
    OFFER,
    SCRIPT,
)
from voxcast.domain import scripts as s
from voxcast.ports import HangupBy
from voxcast.robot.dialogue import (
    EVENTS,
    TABLE,
    BargeIn,
    CallAnswered,
    CallEnded,
    Classified,
    Classify,
    Dialogue,
    DialogueError,
    DtmfPressed,
    HangUp,
    Listen,
    MachineDetected,
    PlayPrompt,
    PromptFinished,
    Reaction,
    ResultStatus,
    SetIntentLevel,
    SilenceTimeout,
    Speaker,
    SpeechEnded,
    SpeechStarted,
    State,
    StopPlayback,
    TransferEnded,
    TransferToAgents,
)

ASK_DATE_AGAIN = "Could you tell me the day you will pay? For example, tomorrow or next Monday."
PUTTING = "One moment, I am putting you through."


def play(text: str, interruptible: bool = True) -> PlayPrompt:
    return PlayPrompt(text, None, interruptible)


def listening(node: str = "identify", *, llm: bool = False) -> Dialogue:
    """The example answered at 0 and listening on `node` (reached by saying yes, then
    "I can't pay")."""
    d = Dialogue(SCRIPT, CUSTOMER, llm=llm)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    if node in ("ask_date", "offer_agent"):
        d.handle(SpeechEnded(4000, "yes"))
        d.handle(PromptFinished(9000))
    if node == "offer_agent":
        d.handle(SpeechEnded(10000, "I can't pay"))
        d.handle(PromptFinished(15000))
    assert d.state is State.LISTENING and d.node is not None and d.node.id == node
    return d


def at_offer_prompt() -> Dialogue:
    """The example playing offer_agent's prompt, which may not be interrupted."""
    d = listening("ask_date")
    assert d.handle(SpeechEnded(10000, "I can't pay")) == [play(OFFER, False)]
    assert d.state is State.PLAYING_LOCKED
    return d


def script(**fields: Any) -> s.Script:
    base: dict[str, Any] = {
        "formatVersion": 1,
        "name": "t",
        "start": "a",
        "intents": {"yes": {"keywords": ["yes"]}},
        "nodes": {"a": {"prompt": {"text": "Hi ${text1}"}}},
    }
    parsed = s.parse(base | fields)
    assert s.validate(parsed) == []
    return parsed


# -- barge-in and backchannels -------------------------------------------------------------------


def test_barge_in_stops_an_interruptible_prompt_at_once() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    d.handle(CallAnswered(0))
    assert d.handle(SpeechStarted(1000)) == []
    assert d.handle(BargeIn(1250)) == [StopPlayback()]
    assert d.state is State.HEARING
    # the player's report of the stopped prompt comes late and changes nothing
    assert d.handle(PromptFinished(1270)) == []
    assert d.handle(SpeechEnded(1900, "yes it's me")) == [play(ASK_DATE)]
    turns = d.record.turns
    assert (turns[0].speaker, turns[0].start_ms, turns[0].end_ms) == (Speaker.ROBOT, 0, 1250)
    assert (turns[1].speaker, turns[1].start_ms, turns[1].end_ms) == (Speaker.PERSON, 1000, 1900)


def test_a_backchannel_over_a_prompt_neither_interrupts_nor_costs_a_retry() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(SpeechStarted(1000))
    assert d.handle(SpeechEnded(1150, "uh-huh")) == []  # no BargeIn came: too short
    assert d.handle(PromptFinished(3000)) == [Listen(5000)]
    assert d.record.chat_rounds == 0
    # and the node still has its retry for real silence
    assert d.handle(SilenceTimeout(8000)) == [play(IDENTIFY_AGAIN)]
    assert [t.text for t in d.record.turns if t.speaker is Speaker.PERSON] == ["uh-huh"]


def test_an_answer_given_over_the_prompt_is_acted_on_when_it_ends() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(SpeechStarted(2500))
    assert d.handle(SpeechEnded(2700, "yes")) == []
    assert d.handle(PromptFinished(3000)) == [play(ASK_DATE)]
    assert d.record.turns[1].intent == "yes"


def test_a_prompt_that_may_not_be_interrupted_ignores_barge_in() -> None:
    d = at_offer_prompt()
    assert d.handle(SpeechStarted(11000)) == []
    assert d.handle(BargeIn(11250)) == []
    assert d.state is State.PLAYING_LOCKED
    assert d.handle(SpeechEnded(12000, "yes please")) == []
    # heard in full, then answered
    assert d.handle(PromptFinished(16000)) == [play(PUTTING, False)]
    assert d.handle(PromptFinished(18000)) == [SetIntentLevel("C"), TransferToAgents(1)]
    assert d.state is State.TRANSFERRING


def test_say_lines_play_whole_whatever_the_callee_does() -> None:
    d = listening()
    d.handle(SpeechEnded(4000, "who are you"))
    assert d.state is State.SAYING
    assert d.handle(BargeIn(4500)) == []
    assert d.handle(DtmfPressed(4600, "1")) == []
    assert d.handle(SpeechEnded(5000, "hello?")) == []
    assert d.handle(PromptFinished(8000)) == [play(IDENTIFY)]
    assert d.record.keys == ["1"]
    assert d.record.turns[-2].text == "hello?"


# -- keys ----------------------------------------------------------------------------------------


def test_a_key_stops_an_interruptible_prompt_and_acts_at_once() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    d.handle(CallAnswered(0))
    assert d.handle(DtmfPressed(1200, "1")) == [StopPlayback(), play(ASK_DATE)]
    assert d.record.turns[0].end_ms == 1200
    assert (d.record.keys, d.record.chat_rounds) == (["1"], 1)


def test_a_key_during_a_locked_prompt_acts_when_it_ends() -> None:
    d = at_offer_prompt()
    assert d.handle(DtmfPressed(11000, "1")) == []
    assert d.handle(PromptFinished(16000)) == [SetIntentLevel("C"), TransferToAgents(1)]


def test_a_key_while_listening_or_hearing_acts() -> None:
    d = listening()
    assert d.handle(DtmfPressed(3500, "2")) == [
        play("Sorry for the trouble. We will update our records. Goodbye.", False)
    ]
    d = listening()
    d.handle(SpeechStarted(3500))
    assert d.handle(DtmfPressed(3600, "1")) == [play(ASK_DATE)]


def test_a_key_the_node_has_no_action_for_is_not_understood() -> None:
    d = listening()
    assert d.handle(DtmfPressed(3500, "9")) == [play(IDENTIFY_AGAIN)]
    d = listening("ask_date")  # a node with no keys at all still takes them
    assert d.handle(DtmfPressed(9500, "5")) == [play(ASK_DATE_AGAIN)]


# -- retries, no match, global intents -----------------------------------------------------------


def test_not_understood_after_the_retries_runs_no_match() -> None:
    d = listening()
    assert d.handle(SpeechEnded(4000, "the weather is lovely today")) == [play(IDENTIFY_AGAIN)]
    d.handle(PromptFinished(9000))
    assert d.handle(SpeechEnded(10000, "purple elephants")) == [SetIntentLevel("E"), HangUp()]
    assert d.record.chat_rounds == 2
    assert [t.intent for t in d.record.turns if t.speaker is Speaker.PERSON] == [None, None]


def test_retries_are_shared_by_silence_and_no_match_and_reset_on_a_new_node() -> None:
    d = listening("ask_date")  # retries: 2
    assert d.handle(SilenceTimeout(16000)) == [play(ASK_DATE_AGAIN)]
    d.handle(PromptFinished(20000))
    assert d.handle(SpeechEnded(21000, "mmm")) == [play(ASK_DATE_AGAIN)]
    d.handle(PromptFinished(25000))
    assert d.handle(SpeechEnded(26000, "hmm")) == [play(OFFER, False)]  # noMatch: offer_agent
    d.handle(PromptFinished(30000))
    assert d.handle(SilenceTimeout(35000)) == [play(OFFER, False)]  # its own retry, no retryPrompt


def test_an_empty_transcript_counts_as_silence() -> None:
    d = listening()
    d.handle(SpeechStarted(3500))
    assert d.handle(SpeechEnded(3900, "  ")) == [play(IDENTIFY_AGAIN)]
    assert [t.speaker for t in d.record.turns] == [Speaker.ROBOT, Speaker.ROBOT]
    assert d.record.chat_rounds == 0


def test_repeat_replays_the_prompt_without_using_a_retry() -> None:
    d = listening()
    assert d.handle(SpeechEnded(4000, "pardon?")) == [play(IDENTIFY)]
    d.handle(PromptFinished(7000))
    assert d.handle(SilenceTimeout(12000)) == [play(IDENTIFY_AGAIN)]


def test_a_global_intent_the_node_turns_off_is_not_heard() -> None:
    d = listening("offer_agent")
    # call_later is off here: "busy" is not understood, and no goodbye comes
    assert d.handle(SpeechEnded(16000, "I'm busy")) == [play(OFFER, False)]
    d.handle(PromptFinished(20000))
    # the other global intents still apply
    who = "This is the automated billing assistant of Example Energy, calling about your account."
    assert d.handle(SpeechEnded(21000, "who is this")) == [play(who, False)]


def test_every_global_intent_off_leaves_only_the_branches() -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["nodes"]["identify"]["disableGlobalIntents"] = True
    d = Dialogue(s.parse(doc), CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    assert d.handle(SpeechEnded(4000, "who is this")) == [play(IDENTIFY_AGAIN)]


# -- the LLM step --------------------------------------------------------------------------------


def test_with_an_llm_what_the_rules_miss_is_asked_and_the_answer_acted_on() -> None:
    d = listening(llm=True)
    cmds = d.handle(SpeechEnded(4000, "aye, that would be me"))
    assert len(cmds) == 1 and isinstance(cmds[0], Classify)
    assert cmds[0].transcript == "aye, that would be me"
    assert list(cmds[0].candidates) == [
        s.OPT_OUT,
        "yes",
        "no",
        "repeat",
        "who_is_this",
        "call_later",
    ]
    assert d.state is State.UNDERSTANDING
    assert d.handle(Classified(4600, "yes")) == [play(ASK_DATE)]
    assert d.record.turns[1].intent == "yes"


def test_the_llm_finding_nothing_or_naming_another_intent_is_no_match() -> None:
    d = listening(llm=True)
    d.handle(SpeechEnded(4000, "blah"))
    assert d.handle(Classified(5000, None)) == [play(IDENTIFY_AGAIN)]
    d.handle(PromptFinished(9000))
    d.handle(SpeechEnded(10000, "blah blah"))
    assert d.handle(Classified(10500, "pay_date")) == [SetIntentLevel("E"), HangUp()]


def test_a_key_while_the_llm_thinks_wins_and_its_late_answer_is_ignored() -> None:
    d = listening(llm=True)
    d.handle(SpeechEnded(4000, "blah"))
    assert d.handle(DtmfPressed(4200, "1")) == [play(ASK_DATE)]
    assert d.handle(Classified(4800, "no")) == []
    assert d.state is State.PLAYING


def test_rules_that_match_never_ask_the_llm() -> None:
    d = listening(llm=True)
    assert d.handle(SpeechEnded(4000, "yes")) == [play(ASK_DATE)]


# -- transfers and the end of the call -----------------------------------------------------------


def test_a_transfer_nobody_takes_is_transfer_artificial() -> None:
    d = listening("offer_agent")
    assert d.handle(DtmfPressed(16000, "1")) == [SetIntentLevel("C"), TransferToAgents(1)]
    assert d.handle(TransferEnded(46000, taken=False)) == [HangUp()]
    r = d.record
    assert (r.result_status, r.hangup_by, r.agent_group_id) == (
        ResultStatus.TRANSFER_ARTIFICIAL,
        HangupBy.US,
        1,
    )


def test_a_callee_who_hangs_up_while_waiting_for_an_agent_is_transfer_artificial() -> None:
    d = listening("offer_agent")
    d.handle(DtmfPressed(16000, "1"))
    assert d.handle(CallEnded(20000, HangupBy.CALLEE)) == []
    assert (d.record.result_status, d.record.hangup_by) == (
        ResultStatus.TRANSFER_ARTIFICIAL,
        HangupBy.CALLEE,
    )


def test_a_transfer_an_agent_takes_leaves_the_call_answered() -> None:
    d = listening("offer_agent")
    d.handle(DtmfPressed(16000, "1"))
    assert d.handle(TransferEnded(21000, taken=True)) == []
    assert d.state is State.BRIDGED
    assert d.handle(SpeechEnded(30000, "hello agent")) == []  # the agent's conversation
    assert d.handle(CallEnded(90000, HangupBy.AGENT)) == []
    r = d.record
    assert (r.result_status, r.hangup_by, r.chat_duration_ms) == (
        ResultStatus.ANSWERED,
        HangupBy.AGENT,
        90000,
    )


def test_a_callee_hanging_up_mid_prompt_closes_the_robots_line() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    d.handle(CallAnswered(500))
    assert d.handle(CallEnded(2500, HangupBy.CALLEE)) == []
    r = d.record
    assert d.state is State.ENDED
    assert (r.turns[0].end_ms, r.hangup_by, r.result_status, r.chat_duration_ms) == (
        2000,
        HangupBy.CALLEE,
        ResultStatus.ANSWERED,
        2000,
    )
    for late in (PromptFinished(2600), SilenceTimeout(2700), DtmfPressed(2800, "1")):
        assert d.handle(late) == []


def test_a_call_never_answered_has_no_result_of_the_robots() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    assert d.handle(CallEnded(30000, HangupBy.US)) == []
    assert (d.record.result_status, d.record.turns, d.record.chat_duration_ms) == (None, [], 0)


# -- prompts and variables -----------------------------------------------------------------------


def test_group_call_variables_fill_and_unknown_ones_are_empty() -> None:
    d = Dialogue(script(), {"text1": "Ann"})
    assert d.handle(CallAnswered(0)) == [play("Hi Ann")]
    d = Dialogue(script(), {})
    assert d.handle(CallAnswered(0)) == [play("Hi ")]


def test_a_voice_file_prompt_is_played_and_logged_by_its_id() -> None:
    d = Dialogue(script(nodes={"a": {"prompt": {"voiceFileId": "f1.wav"}, "retries": 0}}))
    assert d.handle(CallAnswered(0)) == [PlayPrompt(None, "f1.wav", True)]
    assert d.record.turns[0].text == "[voice file f1.wav]"
    d.handle(PromptFinished(2000))
    assert d.handle(SilenceTimeout(7000)) == [HangUp()]  # the default silence action


def test_a_voicemail_while_listening_still_takes_the_voicemail_branch() -> None:
    d = listening()
    cmds = d.handle(MachineDetected(3500))
    assert StopPlayback() not in cmds
    assert cmds[-1] == HangUp() and d.record.voicemail


# -- the table -----------------------------------------------------------------------------------


def test_every_state_after_the_answer_has_a_row_for_every_event_but_a_second_answer() -> None:
    for state in State:
        if state is State.RINGING:
            assert set(TABLE[state]) == {CallAnswered, CallEnded}
            continue
        missing = {e for e in EVENTS if e not in TABLE[state]}
        if state is State.ENDED:
            assert missing == set()
        elif state is State.TRANSFERRING:
            assert missing == {CallAnswered}
        else:
            assert missing == {CallAnswered, TransferEnded}, state


def test_an_event_with_no_row_is_a_driver_bug() -> None:
    d = Dialogue(SCRIPT, CUSTOMER)
    with pytest.raises(DialogueError, match="PromptFinished has no row in state RINGING"):
        d.handle(PromptFinished(0))
    d.handle(CallAnswered(0))
    with pytest.raises(DialogueError, match="CallAnswered has no row in state PLAYING"):
        d.handle(CallAnswered(10))
    with pytest.raises(DialogueError, match="TransferEnded"):
        d.handle(TransferEnded(10, taken=True))


def test_only_an_interruptible_prompt_reacts_to_barge_in() -> None:
    barging = {state for state, row in TABLE.items() if row.get(BargeIn) is Reaction.BARGE}
    assert barging == {State.PLAYING}
