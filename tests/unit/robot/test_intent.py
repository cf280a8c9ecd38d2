"""Intent rules (voxcast.robot.intent): keywords first, longest wins, whole words only; then
similarity to the example phrases, with a floor and a guard against one-word matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxcast.domain import scripts as s
from voxcast.robot.intent import How, match_intent, normalize, similarity

EXAMPLE = Path(s.__file__).parent / "examples" / "payment_reminder.json"
SCRIPT = s.parse(json.loads(EXAMPLE.read_text()))


def at(node_id: str) -> dict[str, s.Intent]:
    """The candidates of a node of the example, as the dialogue offers them."""
    return SCRIPT.intents_at(SCRIPT.nodes[node_id])


def intent(text: str, node_id: str = "identify") -> str | None:
    found = match_intent(text, at(node_id))
    return None if found is None else found.intent


def test_normalize_folds_case_punctuation_and_curly_apostrophes() -> None:
    assert normalize("  Yes,   THAT’S me!! ") == "yes that's me"
    assert normalize("ＹＥＳ") == "yes"  # full-width letters (NFKC)
    assert normalize("?!...") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),
        ("yeah that's me", "yes"),
        ("No, wrong number.", "no"),
        ("Who is this?", "who_is_this"),
        ("Could you repeat that please", "repeat"),
        ("I'm busy, call me back", "call_later"),
        ("Please stop calling me", s.OPT_OUT),
    ],
)
def test_keywords_name_the_intent(text: str, expected: str) -> None:
    found = match_intent(text, at("identify"))
    assert found is not None
    assert (found.intent, found.how) == (expected, How.KEYWORD)


def test_the_longest_keyword_wins_over_an_earlier_short_one() -> None:
    # "no" (the node's own branch) is in it, but "stop calling" says more
    assert intent("no, stop calling me") == s.OPT_OUT
    assert intent("yes, who is this?") == "who_is_this"


def test_keywords_match_whole_words_only() -> None:
    # "no" inside "know" or "nobody", "yes" inside "yesterday" are not keywords heard
    assert match_intent("I know", at("identify")) is None
    assert intent("I paid it yesterday", "ask_date") == "already_paid"
    found = match_intent("yesterday", {"yes": s.Intent(keywords=("yes",))})
    assert found is None


def test_a_cjk_keyword_matches_inside_a_sentence_without_spaces() -> None:
    cands = {"yes": s.Intent(keywords=("是的",)), "no": s.Intent(keywords=("不是",))}
    found = match_intent("对，是的，我就是", cands)
    assert found is not None and found.intent == "yes"


def test_a_node_hears_only_its_own_and_its_global_intents() -> None:
    # "tomorrow" is a pay_date keyword, but identify does not listen for pay dates
    assert intent("tomorrow", "identify") is None
    assert intent("tomorrow", "ask_date") == "pay_date"
    # offer_agent turns call_later off: "I'm busy" is not understood there
    assert intent("I'm busy", "identify") == "call_later"
    assert intent("I'm busy", "offer_agent") is None


def test_example_phrases_match_what_keywords_miss() -> None:
    found = match_intent("call me later", at("identify"))
    assert found is not None
    assert (found.intent, found.how, found.evidence) == (
        "call_later",
        How.FUZZY,
        "can you call me later",
    )
    assert found.score == 100.0
    assert intent("take me off the list") == s.OPT_OUT
    assert intent("who is calling", "ask_date") == "who_is_this"


def test_the_best_example_wins_not_the_first_candidate() -> None:
    cands = {
        "a": s.Intent(examples=("i will pay next month",)),
        "b": s.Intent(examples=("i will pay next week",)),
    }
    found = match_intent("I will pay next week", cands)
    assert found is not None and (found.intent, found.score) == ("b", 100.0)


def test_one_word_of_a_long_example_is_not_a_match() -> None:
    # word-set similarity alone scores "me" inside "yes this is me" at 100
    assert match_intent("me", at("identify")) is None
    assert match_intent("what", at("identify")) is None
    assert similarity("me", "yes this is me") < 50


def test_a_long_sentence_sharing_a_few_words_is_not_a_match() -> None:
    # rapidfuzz's WRatio rates each of these at 85.5 against some example of the script
    assert intent("the weather is lovely today in the garden") is None
    assert intent("i would like to talk about my bill", "ask_date") is None
    assert similarity("the weather is lovely today in the garden", "yes this is me") < 60


def test_unrelated_speech_and_empty_input_match_nothing() -> None:
    assert intent("hello") is None
    assert match_intent("", at("identify")) is None
    assert match_intent("   ...", at("identify")) is None


def test_the_threshold_is_the_callers_to_choose() -> None:
    cands = {"a": s.Intent(examples=("take me off your list",))}
    assert match_intent("take me off the list", cands) is not None
    assert match_intent("take me off the list", cands, threshold=95) is None
