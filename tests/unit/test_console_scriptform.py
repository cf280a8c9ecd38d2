"""The script form's action lines: every action kind written and read back unchanged, what the
short form cannot say kept as JSON, and a line's mistake left for the API's checks to name by
node and field; a refusal's findings placed beside the node or intent they name."""

from __future__ import annotations

from typing import Any

import pytest

from voxcast.console import scriptform
from voxcast.domain.codes import ApiError
from voxcast.services import scripts

ACTIONS: list[Any] = [
    {"type": "goto", "node": "ask_date"},
    {"type": "resume"},
    {"type": "transfer", "agentGroupId": 12},
    {"type": "hangup"},
    {"type": "say", "prompt": {"text": "Hello ${name}, one moment."}},
    {"type": "say", "prompt": {"voiceFileId": "f-123"}},
    {"type": "sms", "text": "Pay at example.com/pay"},
    {"type": "tag", "tag": "promised-to-pay"},
    {"type": "intentLevel", "level": "A"},
]


def test_every_action_is_a_line_read_back_unchanged() -> None:
    text = scriptform.actions_text(ACTIONS)
    assert text.splitlines() == [
        "goto ask_date",
        "resume",
        "transfer 12",
        "hangup",
        "say Hello ${name}, one moment.",
        "sayFile f-123",
        "sms Pay at example.com/pay",
        "tag promised-to-pay",
        "intentLevel A",
    ]
    assert scriptform.parse_actions(text) == ACTIONS


def test_what_the_short_form_cannot_say_stays_json() -> None:
    odd = [{"type": "goto", "node": "x", "extra": 1}, {"type": "say"}, "hangup"]
    text = scriptform.actions_text(odd)
    assert text.splitlines() == ['{"type": "goto", "node": "x", "extra": 1}', "say", '"hangup"']
    assert scriptform.parse_actions('{"type": "goto", "node": "x", "extra": 1}\nsay') == [
        {"type": "goto", "node": "x", "extra": 1},
        {"type": "say"},
    ]


def _refusal(no_match: str) -> str:
    document = scripts.example_document()
    document["nodes"]["identify"]["noMatch"] = scriptform.parse_actions(no_match)
    with pytest.raises(ApiError) as caught:
        scripts.checked(document, scriptform.PREFIX)
    return caught.value.reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "jump ask_date",
            "script.nodes.identify.noMatch[0].type: must be one of goto, resume, transfer, "
            "hangup, say, sms, tag, intentLevel",
        ),
        ("goto", "script.nodes.identify.noMatch[0].node: is required"),
        (
            "transfer sales",
            "script.nodes.identify.noMatch[0].agentGroupId: must be an integer 1-2147483647",
        ),
        ("hangup now", "script.nodes.identify.noMatch[0].argument: unknown field"),
        ('{"type": "goto"}', "script.nodes.identify.noMatch[0].node: is required"),
    ],
)
def test_a_lines_mistake_is_the_apis_to_name(line: str, reason: str) -> None:
    assert _refusal(line) == f"Parameter exception: {reason}"


def test_a_broken_json_line_is_refused_by_the_api_and_shown_as_typed() -> None:
    actions = scriptform.parse_actions("intentLevel E\n{nope")
    assert scriptform.actions_text(actions) == "intentLevel E\n{nope"
    document = scripts.example_document()
    document["nodes"]["identify"]["noMatch"] = actions
    with pytest.raises(ApiError) as caught:
        scripts.checked(document, scriptform.PREFIX)
    assert caught.value.reason == (
        "Parameter exception: script.nodes.identify.noMatch[1]: must be an object"
    )


def test_findings_are_placed_beside_their_node_or_intent() -> None:
    refusal = (
        'Parameter exception: script.nodes.ask_date.noMatch[2].node: node "thanks" does not '
        'exist; script.intents.optOut: "optOut" is the built-in opt-out; use optOut.keywords; '
        'script.start: node "nowhere" does not exist (and 2 more)'
    )
    view = scriptform.form_view(
        {**scripts.example_document(), "intents": {"optOut": {"keywords": ["stop"]}}}, refusal
    )
    placed = {n.id: n.problems for n in view.nodes if n.problems}
    assert placed == {
        "ask_date": ['script.nodes.ask_date.noMatch[2].node: node "thanks" does not exist']
    }
    assert [i.problems for i in view.intents if i.problems] == [
        ['script.intents.optOut: "optOut" is the built-in opt-out; use optOut.keywords']
    ]
    assert view.problems == ['script.start: node "nowhere" does not exist']
