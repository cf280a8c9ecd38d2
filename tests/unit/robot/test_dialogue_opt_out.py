"""The built-in spoken opt-out of AI scripts (issue 18): English and Chinese phrases heard on
every node and not confused with a "no" or the script's own intents; OptOut, then the
confirmation played whole, then HangUp, from listening, a barge-in, an answer over a prompt and
the LLM step; a script's own phrases and confirmation, one that turns it off; the record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.robot.reminder import CUSTOMER, EXAMPLE, OFFER, WHO
from tests.unit.robot.reminder import SCRIPT as REMINDER
from voxcast.domain import optout
from voxcast.domain import scripts as s
from voxcast.ports import HangupBy
from voxcast.robot.dialogue import (
    TABLE,
    BargeIn,
    CallAnswered,
    CallEnded,
    Classified,
    Classify,
    Dialogue,
    DtmfPressed,
    HangUp,
    Listen,
    MachineDetected,
    OptOut,
    PlayPrompt,
    PromptFinished,
    Reaction,
    ResultStatus,
    SendSms,
    SpeechEnded,
    SpeechStarted,
    State,
    StopPlayback,
    TransferToAgents,
)
from voxcast.robot.intent import match_intent

REMINDER_CONFIRMATION = "Understood. We will not call you again. Goodbye."
ENGLISH = "You will not be called again. Goodbye."
GOODBYE = [{"type": "say", "prompt": {"text": "Goodbye."}}, {"type": "hangup"}]


def script(**fields: Any) -> s.Script:
    """A one-node script asking yes or no, in English unless `language` says otherwise."""
    base: dict[str, Any] = {
        "formatVersion": 1,
        "name": "t",
        "language": "en",
        "start": "a",
        "intents": {
            "yes": {"keywords": ["yes", "是", "好的"]},
            "no": {"keywords": ["no", "不", "不是", "不用"], "examples": ["no thank you"]},
            "later": {"keywords": ["call me later", "晚点打"]},
        },
        "nodes": {
            "a": {
                "prompt": {"text": "Hi ${text1}, shall we book it?"},
                "branches": [
                    {"intent": "yes", "actions": GOODBYE},
                    {"intent": "no", "actions": GOODBYE},
                    {"intent": "later", "actions": GOODBYE},
                ],
                "retries": 1,
                "retryPrompt": {"text": "Sorry?"},
            }
        },
    }
    parsed = s.parse(base | fields)
    assert s.validate(parsed) == []
    return parsed


def heard(text: str, on: s.Script | None = None) -> str | None:
    sc = on or script()
    found = match_intent(text, sc.intents_at(sc.nodes[sc.start]))
    return None if found is None else found.intent


def listening(sc: s.Script, *, llm: bool = False) -> Dialogue:
    d = Dialogue(sc, {"text1": "Ann"}, llm=llm)
    d.handle(CallAnswered(0))
    assert d.handle(PromptFinished(2000)) == [Listen(5000)]
    return d


def play(text: str, interruptible: bool = True) -> PlayPrompt:
    return PlayPrompt(text, None, interruptible)


# -- hearing it ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Stop calling me.",
        "No, stop calling me!",
        "Please remove me from your list",
        "Don't call me again",
        "do not call me again, ever",
        "Take me off your calling list.",
        "unsubscribe",
        "I want to opt out",
        "I don't want any more calls",
        "不要再打了",
        "别再给我打电话",
        "不是，别再给我打电话了",
        "请不要再给我打电话了",
        "退订",
    ],
)
def test_english_and_chinese_opt_out_phrases_are_heard_on_every_script(text: str) -> None:
    assert heard(text) == s.OPT_OUT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", "no"),
        ("No.", "no"),
        ("no thanks", "no"),
        ("不", "no"),
        ("不是", "no"),
        ("不用了", "no"),
        ("yes", "yes"),
        ("好的", "yes"),
        ("can you call me later", "later"),
        ("晚点打给我", "later"),
    ],
)
def test_an_ordinary_no_and_the_scripts_own_intents_are_not_an_opt_out(
    text: str, expected: str
) -> None:
    assert heard(text) == expected


def test_the_reminders_own_intents_stay_its_own() -> None:
    at = REMINDER.intents_at(REMINDER.nodes["identify"])
    assert next(iter(at)) == s.OPT_OUT  # first: it wins a tie
    for text, expected in [
        ("No, wrong number.", "no"),
        ("I'm busy, call me back", "call_later"),
        ("who is this?", "who_is_this"),
        ("stop the reminders please", s.OPT_OUT),  # the example's own phrase
    ]:
        found = match_intent(text, at)
        assert found is not None and found.intent == expected, text


# -- what the dialogue does ----------------------------------------------------------------------


def test_heard_while_listening_lists_confirms_whole_then_hangs_up() -> None:
    d = listening(script())
    assert d.handle(SpeechStarted(3000)) == []
    assert d.handle(SpeechEnded(4000, "Stop calling me")) == [OptOut(), play(ENGLISH, False)]
    assert d.state is State.OPTING_OUT
    # the confirmation plays whole: nothing the callee does interrupts it or leads elsewhere
    assert d.handle(SpeechStarted(4500)) == []
    assert d.handle(BargeIn(4750)) == []
    assert d.handle(SpeechEnded(5000, "yes")) == []
    assert d.handle(DtmfPressed(5100, "1")) == []
    assert d.handle(MachineDetected(5200)) == []
    assert d.handle(PromptFinished(6500)) == [HangUp()]
    r = d.record
    assert r.opted_out and r.result_status is ResultStatus.ANSWERED and r.hangup_by is HangupBy.US
    assert [(t.speaker.value, t.text, t.intent) for t in r.turns] == [
        ("ROBOT", "Hi Ann, shall we book it?", None),
        ("PERSON", "Stop calling me", s.OPT_OUT),
        ("ROBOT", ENGLISH, None),
        ("PERSON", "yes", None),
    ]
    assert (r.turns[2].start_ms, r.turns[2].end_ms, r.keys, r.chat_rounds) == (4000, 6500, ["1"], 1)
    assert d.handle(PromptFinished(7000)) == []  # ended


def test_heard_after_a_barge_in_on_a_prompt() -> None:
    d = Dialogue(script(), {"text1": "Ann"})
    d.handle(CallAnswered(0))
    d.handle(SpeechStarted(500))
    assert d.handle(BargeIn(750)) == [StopPlayback()]
    assert d.handle(SpeechEnded(1800, "不要再打了")) == [OptOut(), play(ENGLISH, False)]
    assert d.handle(PromptFinished(4000)) == [HangUp()]
    assert d.record.opted_out


def test_heard_over_a_prompt_that_may_not_be_interrupted_acts_when_it_ends() -> None:
    d = Dialogue(REMINDER, CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    d.handle(SpeechEnded(4000, "yes"))
    d.handle(PromptFinished(9000))
    assert d.handle(SpeechEnded(10000, "I can't pay")) == [play(OFFER, False)]
    assert d.handle(BargeIn(11000)) == []
    assert d.handle(SpeechEnded(12000, "don't call me again")) == []
    assert d.handle(PromptFinished(15000)) == [OptOut(), play(REMINDER_CONFIRMATION, False)]
    assert d.handle(PromptFinished(18000)) == [HangUp()]


def test_said_over_a_say_line_it_wins_over_the_rest_of_the_list() -> None:
    d = Dialogue(REMINDER, CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    assert d.handle(SpeechEnded(4000, "who is this?")) == [play(WHO, False)]
    assert d.state is State.SAYING
    assert d.handle(SpeechEnded(5000, "whatever, stop calling me")) == []
    # instead of resuming the question
    assert d.handle(PromptFinished(8000)) == [OptOut(), play(REMINDER_CONFIRMATION, False)]
    assert d.handle(PromptFinished(11000)) == [HangUp()]
    assert d.record.turns[3].intent == s.OPT_OUT and d.record.chat_rounds == 2


def test_other_speech_over_a_say_line_is_only_logged() -> None:
    for sc, text in [(REMINDER, "yes"), (script(optOut={"enabled": False}), "stop calling me")]:
        d = Dialogue(sc, CUSTOMER)
        d.handle(CallAnswered(0))
        d.handle(PromptFinished(3000))
        d.handle(SpeechEnded(4000, "yes" if sc is not REMINDER else "who is this?"))
        assert d.state is State.SAYING
        assert d.handle(SpeechEnded(5000, text)) == []
        cmds = d.handle(PromptFinished(8000))
        assert OptOut() not in cmds and not d.record.opted_out


def test_on_the_node_offering_an_agent_no_transfer_and_no_sms_follow() -> None:
    d = Dialogue(REMINDER, CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    d.handle(SpeechEnded(4000, "yes"))
    d.handle(PromptFinished(9000))
    d.handle(SpeechEnded(10000, "I can't pay"))
    d.handle(PromptFinished(15000))
    cmds = d.handle(SpeechEnded(16000, "yes, remove me from your list"))
    cmds += d.handle(PromptFinished(19000))
    assert cmds == [OptOut(), play(REMINDER_CONFIRMATION, False), HangUp()]
    assert not any(isinstance(c, TransferToAgents | SendSms) for c in cmds)
    assert (d.record.agent_group_id, d.record.sms) == (None, [])


def test_the_llm_may_find_it_when_the_rules_do_not() -> None:
    d = listening(script(), llm=True)
    cmds = d.handle(SpeechEnded(4000, "please never ring this phone"))
    assert len(cmds) == 1 and isinstance(cmds[0], Classify)
    assert list(cmds[0].candidates) == [s.OPT_OUT, "yes", "no", "later"]
    assert d.handle(Classified(4500, s.OPT_OUT)) == [OptOut(), play(ENGLISH, False)]
    assert d.record.turns[-2].intent == s.OPT_OUT


def test_a_callee_hanging_up_during_the_confirmation_is_still_opted_out() -> None:
    d = listening(script())
    d.handle(SpeechEnded(4000, "unsubscribe"))
    assert d.handle(CallEnded(4800, HangupBy.CALLEE)) == []
    assert (d.record.opted_out, d.record.hangup_by, d.state) == (
        True,
        HangupBy.CALLEE,
        State.ENDED,
    )


def test_the_confirmation_is_the_scripts_own_else_its_languages_sentence() -> None:
    own = script(optOut={"confirmation": {"text": "Done, ${text1}. Bye."}})
    assert listening(own).handle(SpeechEnded(4000, "stop calling me"))[1] == play(
        "Done, Ann. Bye.", False
    )
    zh = script(language="zh-CN")
    assert listening(zh).handle(SpeechEnded(4000, "别再给我打电话"))[1] == play(
        optout.CHINESE_CONFIRMATION, False
    )
    de = script(language="de")
    assert listening(de).handle(SpeechEnded(4000, "stop calling me"))[1] == play(
        optout.CONFIRMATIONS["DE"], False
    )
    filed = script(optOut={"confirmation": {"voiceFileId": "v-42"}})
    assert listening(filed).handle(SpeechEnded(4000, "stop calling me"))[1] == PlayPrompt(
        None, "v-42", False
    )


def test_a_node_that_turns_every_global_intent_off_still_hears_it() -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["nodes"]["identify"]["disableGlobalIntents"] = True
    sc = s.parse(doc)
    assert heard("who is this", sc) is None
    assert heard("remove me from your list", sc) == s.OPT_OUT


def test_a_script_adds_its_own_phrases() -> None:
    sc = script(optOut={"keywords": ["leave me alone"], "examples": ["I never signed up"]})
    assert heard("Just leave me alone!", sc) == s.OPT_OUT
    assert heard("i never signed up for this", sc) == s.OPT_OUT
    assert heard("stop calling me", sc) == s.OPT_OUT  # the built-in ones still count


def test_a_script_that_turns_it_off_hears_no_opt_out() -> None:
    sc = script(optOut={"enabled": False})
    assert heard("stop calling me", sc) is None
    d = listening(sc)
    assert d.handle(SpeechEnded(4000, "stop calling me")) == [play("Sorry?")]
    assert not d.record.opted_out


def test_a_turned_off_opt_out_leaves_the_scripts_own_opt_out_intent_at_work() -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["optOut"] = {"enabled": False}
    doc["intents"]["stop"] = {"keywords": ["stop calling"]}
    doc["globalIntents"]["stop"] = [{"type": "tag", "tag": "do-not-call"}, {"type": "hangup"}]
    d = Dialogue(s.parse(doc), CUSTOMER)
    d.handle(CallAnswered(0))
    d.handle(PromptFinished(3000))
    cmds = d.handle(SpeechEnded(4000, "stop calling me"))
    assert OptOut() not in cmds and HangUp() in cmds


def test_the_table_decides_it_opting_out_ends_only_on_the_confirmation() -> None:
    row = TABLE[State.OPTING_OUT]
    assert row[PromptFinished] is Reaction.OPTED_OUT
    assert row[CallEnded] is Reaction.END
    assert {e for e, r in row.items() if r is Reaction.OPTED_OUT} == {PromptFinished}
    assert row[MachineDetected] is Reaction.IGNORE and row[BargeIn] is Reaction.IGNORE


# -- the document --------------------------------------------------------------------------------


def test_opt_out_is_read_written_and_checked() -> None:
    sc = script(optOut={"enabled": True, "keywords": ["go away"], "confirmation": {"text": "Bye."}})
    assert sc.opt_out == s.OptOut(True, ("go away",), (), s.Prompt(text="Bye."))
    assert s.parse(json.loads(json.dumps(s.to_json(sc)))) == sc
    assert s.to_json(script())["optOut"] == {"enabled": True, "keywords": [], "examples": []}
    assert script().opt_out == s.OptOut()
    with pytest.raises(s.ScriptFormatError, match=r"optOut\.enabled"):
        script(optOut={"enabled": "no"})
    with pytest.raises(s.ScriptFormatError, match=r"optOut\.phrases"):
        script(optOut={"phrases": ["x"]})
    base = s.to_json(script())
    taken = base | {"intents": {**base["intents"], s.OPT_OUT: {"keywords": ["x"]}}}
    assert [str(p) for p in s.validate(s.parse(taken))] == [
        'intents.optOut: "optOut" is the built-in opt-out; add phrases under optOut.keywords '
        "or optOut.examples"
    ]
    blank = base | {"optOut": {"confirmation": {"text": " "}}}
    assert [str(p) for p in s.validate(s.parse(blank))] == ["optOut.confirmation.text: is empty"]
    unknown = base | {"optOut": {"confirmation": {"text": "Bye ${who}"}}}
    assert [p.path for p in s.validate(s.parse(unknown))] == ["optOut.confirmation.text"]
