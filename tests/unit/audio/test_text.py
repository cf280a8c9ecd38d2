"""Per-callee TTS text: ${text1}..${text10}."""

from __future__ import annotations

from voxcast.audio import fill, variables_in


def test_each_variable_is_filled_from_the_callees_fields() -> None:
    template = "Hello ${text1}, you owe ${text2} dollars by ${text10}."
    fields = {"text1": "Tom", "text2": 12, "text10": "Friday"}
    assert fill(template, fields) == "Hello Tom, you owe 12 dollars by Friday."


def test_a_missing_value_is_left_out_not_read_aloud() -> None:
    assert fill("Hi ${text1}!", {}) == "Hi !"
    assert fill("Hi ${text3}!", {"text3": None}) == "Hi !"


def test_only_the_ten_vendor_variables_are_replaced() -> None:
    template = "${text0} ${text11} ${name} $text1 ${text1}"
    assert fill(template, {"text1": "A", "text11": "B", "name": "C"}) == (
        "${text0} ${text11} ${name} $text1 A"
    )
    assert variables_in(template) == {"text1"}
    assert variables_in("${text10}${text2}") == {"text10", "text2"}
