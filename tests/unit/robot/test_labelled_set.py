"""The labelled set of callee lines (tests/data/robot) through the intent rules with the example
script, on the node each line answers: at least 95% understood (bench/ai.py prints it too)."""

from __future__ import annotations

from collections import Counter

from tests.data.robot import UTTERANCES, candidates, intent_of, script, spoken
from tests.data.robot.labelled import OPT_OUT

#: the issue's floor; measured 97% (3 misses in 108) when the set was written
FLOOR = 0.95


def test_the_set_is_big_enough_and_labelled_with_the_nodes_intents() -> None:
    assert len(UTTERANCES) >= 100
    assert len(spoken()) >= 50
    assert len({u.text for u in UTTERANCES}) == len(UTTERANCES)
    reminder = script()
    for line in UTTERANCES:
        assert line.intent is None or line.intent in candidates(reminder, line.node), line
    # every intent heard somewhere, and lines that mean nothing
    labels = Counter(u.intent for u in UTTERANCES)
    assert set(reminder.intents) | {OPT_OUT, None} <= set(labels), labels
    assert labels[None] >= 5


def test_intent_accuracy_on_the_texts() -> None:
    wrong = [
        (u.text, u.intent, got)
        for u in UTTERANCES
        if (got := intent_of(u.text, u.node)) != u.intent
    ]
    accuracy = 1 - len(wrong) / len(UTTERANCES)
    print(f"intent accuracy on {len(UTTERANCES)} texts: {accuracy:.3f}; wrong: {wrong}")
    assert accuracy >= FLOOR, wrong
