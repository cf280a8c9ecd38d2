"""The script format (voxcast.domain.scripts): reading JSON, writing it back, and each
validation rule with the exact message that names the node and field."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from voxcast.domain import scripts as s
from voxcast.services.scripts import example_document

EXAMPLE = Path(s.__file__).parent / "examples" / "payment_reminder.json"
DOCS = Path(__file__).parents[2] / "docs" / "ai.md"

HANGUP = [{"type": "hangup"}]


def node(**fields: Any) -> dict[str, Any]:
    """A node that says something and hangs up whatever it hears."""
    return {"prompt": {"text": "Hello"}} | fields


def doc(nodes: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A valid one-node script, changed by `fields`."""
    base: dict[str, Any] = {
        "formatVersion": 1,
        "name": "t",
        "start": "a",
        "intents": {"yes": {"keywords": ["yes"]}, "no": {"keywords": ["no"]}},
        "nodes": nodes if nodes is not None else {"a": node()},
    }
    return base | fields


def problems(document: dict[str, Any]) -> list[str]:
    return [str(p) for p in s.validate(s.parse(document))]


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


# -- the example and the format ------------------------------------------------------------------


def test_the_shipped_example_is_valid_and_uses_three_properties() -> None:
    script = s.parse(example())
    assert s.validate(script) == []
    assert script.variables_used() == ("amount", "dueDate", "name")
    assert list(script.global_intents) == ["repeat", "who_is_this", "call_later"]


def test_the_example_covers_the_callers_the_issue_names() -> None:
    script = s.parse(example())
    identify = script.nodes["identify"]
    assert isinstance(identify.silence[-1], s.Hangup)  # silence
    assert isinstance(script.voicemail[-1], s.Hangup)  # voicemail
    assert [b.intent for b in identify.branches] == ["yes", "no"]  # confirms identity
    assert "pay_date" in [b.intent for b in script.nodes["ask_date"].branches]
    assert script.global_intents["who_is_this"][-1] == s.Resume()  # "who is this?"
    assert script.opt_out.enabled  # "stop calling me": the built-in opt-out
    assert script.opt_out.confirmation == s.Prompt(
        text="Understood. We will not call you again. Goodbye."
    )
    assert s.Tag("call-later") in script.global_intents["call_later"]  # "call me later"


def test_writing_and_reading_back_gives_the_same_script() -> None:
    script = s.parse(example())
    assert s.parse(json.loads(json.dumps(s.to_json(script)))) == script


def test_defaults_are_filled_in() -> None:
    got = s.parse(doc()).nodes["a"]
    assert (got.interruptible, got.listen_timeout_ms, got.retries) == (True, 5000, 1)
    assert (got.no_match, got.silence, got.global_intents_off) == (
        (s.Hangup(),),
        (s.Hangup(),),
        False,
    )


def _schema() -> dict[str, Any]:
    text = DOCS.read_text()
    block = re.search(r"<!-- schema -->\n```json\n(.*?)\n```", text, re.S)
    assert block, "docs/ai.md has the JSON Schema in a json block after <!-- schema -->"
    schema: dict[str, Any] = json.loads(block.group(1))
    return schema


def test_the_documented_json_schema_accepts_the_example_and_what_to_json_writes() -> None:
    validator = jsonschema_rs.validator_for(_schema())
    validator.validate(example())
    validator.validate(s.to_json(s.parse(example())))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(formatVersion=2),
        lambda d: d["nodes"]["identify"].update(listenTimeoutMs=10),
        lambda d: d["nodes"]["identify"].update(colour="red"),
        lambda d: d["voicemail"].append({"type": "dance"}),
        lambda d: d["nodes"]["identify"].update(prompt={"text": "x", "voiceFileId": "y"}),
        lambda d: d["optOut"].update(enabled="no"),
        lambda d: d["optOut"].update(phrases=["stop"]),
    ],
)
def test_the_documented_json_schema_and_the_parser_refuse_the_same_documents(change: Any) -> None:
    bad = copy.deepcopy(example())
    change(bad)
    assert not jsonschema_rs.validator_for(_schema()).is_valid(bad)
    with pytest.raises(s.ScriptFormatError):
        s.parse(bad)


# -- format errors (parse) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], ": must be an object"),
        (doc(formatVersion=2), "formatVersion: must be 1"),
        ({k: v for k, v in doc().items() if k != "start"}, "start: is required"),
        (doc(colour="red"), "colour: unknown field"),
        (doc(nodes={}), "nodes: must be an object with at least one node"),
        (
            doc(nodes={"bad id!": node()}),
            "nodes.bad id!: must be 1-64 letters, digits, '_', '.' or '-'",
        ),
        (
            doc(nodes={"a": node(listenTimeoutMs=100)}),
            "nodes.a.listenTimeoutMs: must be an integer 500-60000",
        ),
        (doc(nodes={"a": node(retries=True)}), "nodes.a.retries: must be an integer 0-5"),
        (
            doc(nodes={"a": node(interruptible="yes")}),
            "nodes.a.interruptible: must be true or false",
        ),
        (doc(nodes={"a": node(prompt={})}), "nodes.a.prompt: must have either text or voiceFileId"),
        (doc(nodes={"a": node(dtmf={"A": HANGUP})}), "nodes.a.dtmf.A: unknown field"),
        (
            doc(nodes={"a": node(silence=[{"type": "jump"}])}),
            "nodes.a.silence[0].type: must be one of goto, resume, transfer, hangup, say, sms, "
            "tag, intentLevel",
        ),
        (
            doc(nodes={"a": node(silence=[{"type": "goto"}])}),
            "nodes.a.silence[0].node: is required",
        ),
        (
            doc(nodes={"a": node(silence=[{"type": "transfer", "agentGroupId": 0}])}),
            "nodes.a.silence[0].agentGroupId: must be an integer 1-2147483647",
        ),
        (
            doc(nodes={"a": node(branches=[{"intent": "yes"}])}),
            "nodes.a.branches[0].actions: is required",
        ),
    ],
)
def test_a_document_that_does_not_fit_the_format_names_the_field(
    document: Any, message: str
) -> None:
    with pytest.raises(s.ScriptFormatError) as caught:
        s.parse(document)
    assert str(caught.value) == message


# -- validation rules, one message each ----------------------------------------------------------


def test_a_valid_script_has_no_problem() -> None:
    assert problems(doc()) == []


def test_a_missing_start_node_is_named() -> None:
    assert problems(doc(start="b")) == ['start: node "b" does not exist']


def test_a_branch_to_a_missing_node_is_named() -> None:
    nodes = {"a": node(branches=[{"intent": "yes", "actions": [{"type": "goto", "node": "zz"}]}])}
    assert problems(doc(nodes)) == ['nodes.a.branches[0].actions[0].node: node "zz" does not exist']


def test_a_key_global_intent_or_voicemail_to_a_missing_node_is_named() -> None:
    goto = [{"type": "goto", "node": "zz"}]
    got = problems(
        doc(
            {"a": node(dtmf={"1": goto})},
            globalIntents={"no": goto},
            voicemail=goto,
        )
    )
    assert got == [
        'globalIntents.no[0].node: node "zz" does not exist',
        'voicemail[0].node: node "zz" does not exist',
        'nodes.a.dtmf.1[0].node: node "zz" does not exist',
    ]


def test_an_unreachable_node_is_named() -> None:
    assert problems(doc({"a": node(), "b": node()})) == [
        'nodes.b: is unreachable from start node "a"'
    ]


def test_a_node_reached_only_through_a_global_intent_or_voicemail_is_reachable() -> None:
    goto_b = [{"type": "goto", "node": "b"}]
    goto_c = [{"type": "goto", "node": "c"}]
    nodes = {"a": node(), "b": node(), "c": node()}
    assert problems(doc(nodes, globalIntents={"no": goto_b}, voicemail=goto_c)) == []


def test_a_global_intent_a_node_turns_off_does_not_reach_its_target() -> None:
    goto_b = [{"type": "goto", "node": "b"}]
    nodes = {"a": node(disableGlobalIntents=True), "b": node()}
    assert problems(doc(nodes, globalIntents={"no": goto_b})) == [
        'nodes.b: is unreachable from start node "a"'
    ]


def test_a_loop_with_no_exit_names_each_of_its_nodes() -> None:
    to_a = [{"type": "goto", "node": "a"}]
    to_b = [{"type": "goto", "node": "b"}]
    nodes = {"a": node(noMatch=to_b, silence=to_b), "b": node(noMatch=to_a, silence=to_a)}
    message = (
        "loops with no exit: no path through its keys, branches, noMatch and silence reaches "
        "a hangup or transfer"
    )
    assert problems(doc(nodes)) == [f"nodes.a: {message}", f"nodes.b: {message}"]


def test_a_loop_is_fine_when_one_of_its_nodes_can_hang_up() -> None:
    to_a = [{"type": "goto", "node": "a"}]
    to_b = [{"type": "goto", "node": "b"}]
    nodes = {
        "a": node(noMatch=to_b, silence=to_b),
        "b": node(
            noMatch=to_a, silence=to_a, dtmf={"9": [{"type": "transfer", "agentGroupId": 3}]}
        ),
    }
    assert problems(doc(nodes)) == []


def test_a_global_opt_out_is_no_exit_for_a_silent_callee() -> None:
    to_a = [{"type": "resume"}]
    nodes = {"a": node(noMatch=to_a, silence=to_a)}
    got = problems(doc(nodes, globalIntents={"no": HANGUP}))
    assert got == [
        "nodes.a: loops with no exit: no path through its keys, branches, noMatch and silence "
        "reaches a hangup or transfer"
    ]


def test_a_node_without_a_prompt_is_named() -> None:
    assert problems(doc({"a": {"silence": HANGUP}})) == ["nodes.a.prompt: is missing"]


def test_an_empty_prompt_text_is_named() -> None:
    nodes = {"a": node(retryPrompt={"text": "  "})}
    assert problems(doc(nodes)) == ["nodes.a.retryPrompt.text: is empty"]


def test_a_say_action_without_a_prompt_is_named() -> None:
    nodes = {"a": node(silence=[{"type": "say"}, {"type": "hangup"}])}
    assert problems(doc(nodes)) == ["nodes.a.silence[0].prompt: is missing"]


def test_a_voice_file_prompt_is_accepted() -> None:
    assert problems(doc({"a": {"prompt": {"voiceFileId": "f1.mp3"}}})) == []


def test_an_unknown_variable_is_named_with_its_field() -> None:
    nodes = {"a": node(prompt={"text": "Hi ${name}, you owe ${text1} by ${date}"})}
    assert problems(doc(nodes, variables=["name"])) == [
        "nodes.a.prompt.text: unknown variable ${date}; use text1..text10 or declare it in "
        "variables"
    ]


def test_an_unknown_variable_in_an_sms_is_named() -> None:
    sms = [{"type": "sms", "text": "Pay ${text11}"}, {"type": "hangup"}]
    assert problems(doc(voicemail=sms)) == [
        "voicemail[0].text: unknown variable ${text11}; use text1..text10 or declare it in "
        "variables"
    ]


def test_a_branch_on_an_undefined_intent_is_named() -> None:
    nodes = {"a": node(branches=[{"intent": "maybe", "actions": HANGUP}])}
    assert problems(doc(nodes)) == [
        'nodes.a.branches[0].intent: intent "maybe" is not defined in intents'
    ]


def test_an_intent_handled_twice_on_a_node_is_named() -> None:
    nodes = {
        "a": node(
            branches=[{"intent": "yes", "actions": HANGUP}, {"intent": "yes", "actions": HANGUP}]
        )
    }
    assert problems(doc(nodes)) == [
        'nodes.a.branches[1].intent: "yes" is already handled by branches[0]'
    ]


def test_a_global_intent_that_is_not_defined_is_named() -> None:
    assert problems(doc(globalIntents={"busy": HANGUP})) == [
        'globalIntents.busy: intent "busy" is not defined in intents'
    ]


def test_turning_off_a_global_intent_that_does_not_exist_is_named() -> None:
    nodes = {"a": node(disableGlobalIntents=["yes"])}
    assert problems(doc(nodes, globalIntents={"no": HANGUP})) == [
        'nodes.a.disableGlobalIntents[0]: "yes" is not a global intent'
    ]


def test_an_action_after_hangup_is_named() -> None:
    nodes = {"a": node(silence=[{"type": "hangup"}, {"type": "tag", "tag": "x"}])}
    assert problems(doc(nodes)) == [
        "nodes.a.silence[0]: nothing may follow hangup; it must be the last action",
        "nodes.a.silence: must end with goto, resume, transfer or hangup",
    ]


def test_an_action_list_that_does_not_say_where_to_go_is_named() -> None:
    nodes = {"a": node(noMatch=[{"type": "tag", "tag": "x"}])}
    assert problems(doc(nodes)) == [
        "nodes.a.noMatch: must end with goto, resume, transfer or hangup"
    ]


def test_an_empty_action_list_is_named() -> None:
    nodes = {"a": node(dtmf={"#": []})}
    assert problems(doc(nodes)) == [
        "nodes.a.dtmf.#: must not be empty; end it with goto, resume, transfer or hangup"
    ]


def test_resume_in_voicemail_is_named() -> None:
    assert problems(doc(voicemail=[{"type": "resume"}])) == [
        "voicemail[0]: resume needs a node that listens; not allowed in voicemail"
    ]


def test_an_intent_level_outside_the_scripts_levels_is_named() -> None:
    level = [{"type": "intentLevel", "level": "G"}, {"type": "hangup"}]
    assert problems(doc({"a": node(silence=level)})) == [
        'nodes.a.silence[0].level: "G" is not one of A, B, C, D, E, F'
    ]


def test_a_script_may_name_its_own_intent_levels() -> None:
    level = [{"type": "intentLevel", "level": "hot"}, {"type": "hangup"}]
    assert problems(doc({"a": node(silence=level)}, intentLevels=["hot", "cold"])) == []


def test_global_intents_at_a_node_leave_out_those_it_turns_off() -> None:
    script = s.parse(example())
    assert script.global_intents_at(script.nodes["offer_agent"]) == (
        "repeat",
        "who_is_this",
    )
    assert script.global_intents_at(script.nodes["identify"]) == tuple(script.global_intents)
    off = s.parse(doc({"a": node(disableGlobalIntents=True)}, globalIntents={"no": HANGUP}))
    assert off.global_intents_at(off.nodes["a"]) == ()


def test_an_example_is_found_only_by_its_plain_name() -> None:
    assert example_document("payment_reminder") == example()
    for name in ("../examples/payment_reminder", "payment_reminder.json", "nope"):
        with pytest.raises(FileNotFoundError):
            example_document(name)


# -- grammars (closed questions) -----------------------------------------------------------------


def test_a_node_names_a_built_in_grammar_or_lists_its_phrases() -> None:
    script = s.parse(
        doc(
            nodes={
                "a": node(
                    grammar="yesno", grammarFirst=True, noMatch=[{"type": "goto", "node": "b"}]
                ),
                "b": node(grammar=["pay now", "pay later"]),
            }
        )
    )
    a, b = script.nodes["a"], script.nodes["b"]
    assert a.grammar is not None and a.grammar.kind == "yesno" and a.grammar_first
    assert b.grammar is not None and b.grammar.kind == "phrases"
    assert b.grammar.phrases == ("pay now", "pay later") and not b.grammar_first
    assert s.validate(script) == []
    assert s.parse(json.loads(json.dumps(s.to_json(script)))) == script
    jsonschema_rs.validator_for(_schema()).validate(s.to_json(script))


@pytest.mark.parametrize(
    ("grammar", "message"),
    [
        ("maybe", "nodes.a.grammar: must be one of yesno, digits, dates, or an array of phrases"),
        (7, "nodes.a.grammar: must be one of yesno, digits, dates, or an array of phrases"),
        ([], "nodes.a.grammar: must have at least one phrase"),
        (["ok", 3], "nodes.a.grammar[1]: must be a string"),
    ],
)
def test_a_grammar_that_does_not_fit_the_format_is_named(grammar: Any, message: str) -> None:
    bad = doc(nodes={"a": node(grammar=grammar)})
    with pytest.raises(s.ScriptFormatError) as caught:
        s.parse(bad)
    assert str(caught.value) == message
    assert not jsonschema_rs.validator_for(_schema()).is_valid(bad)


def test_grammar_first_must_be_a_boolean() -> None:
    bad = doc(nodes={"a": node(grammarFirst="yes")})
    with pytest.raises(s.ScriptFormatError, match=r"nodes\.a\.grammarFirst: must be true or false"):
        s.parse(bad)
    assert not jsonschema_rs.validator_for(_schema()).is_valid(bad)


def test_a_grammar_phrase_that_is_not_words_is_named() -> None:
    assert problems(doc(nodes={"a": node(grammar=["pay now", "pay 50%"])})) == [
        'nodes.a.grammar[1]: "pay 50%" is not plain words (letters and apostrophes): the '
        "grammar recognizer cannot hear it; spell numbers out"
    ]


def test_a_grammar_in_a_script_that_is_not_english_is_named() -> None:
    found = problems(
        doc(nodes={"a": node(grammar="digits"), "b": node(grammarFirst=True)}, language="zh")
    )
    assert found[:2] == [
        "nodes.a.grammar: the grammar recognizer hears English only; the script's language "
        'is "zh"',
        "nodes.b.grammarFirst: the grammar recognizer hears English only; the script's "
        'language is "zh"',
    ]
    assert problems(doc(nodes={"a": node(grammar="digits")}, language="en-US")) == []


def test_the_grammar_at_a_node_is_only_the_one_it_declares() -> None:
    # an open question has none: a grammar would hear its answers as the wrong intent
    script = s.parse(example())
    assert script.grammar_at(script.nodes["identify"]) is None
    document = example()
    document["nodes"]["identify"]["grammar"] = "yesno"
    closed = s.parse(document)
    found = closed.grammar_at(closed.nodes["identify"])
    assert found is not None and found.kind == "yesno"
