"""The opt-out confirmation's text: the task's own, else the default of its language."""

from __future__ import annotations

from voxcast.domain.languages import CODES
from voxcast.domain.optout import CONFIRMATIONS, confirmation_text
from voxcast.domain.task_settings import from_params, to_params


def test_every_tts_language_has_a_default_confirmation() -> None:
    assert set(CONFIRMATIONS) == set(CODES)


def test_the_tasks_text_wins_and_blank_means_the_default() -> None:
    assert confirmation_text("Removed. Bye.", "EN") == "Removed. Bye."
    assert confirmation_text("  ", "de") == CONFIRMATIONS["DE"]
    assert confirmation_text(None, None) == "You will not be called again. Goodbye."
    assert confirmation_text(None, "XX") == CONFIRMATIONS["EN"]


def test_opt_out_text_is_stored_and_read_back() -> None:
    settings = from_params({"optOutKey": "9", "optOutText": "Goodbye."})
    assert (settings.opt_out_key, settings.opt_out_text) == ("9", "Goodbye.")
    assert from_params(to_params(settings)) == settings
