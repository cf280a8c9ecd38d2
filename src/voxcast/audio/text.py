"""Per-callee TTS text: `${text1}`…`${text10}` filled from the callee's own fields."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: the vendor's ten per-callee variables; any other `${...}` is left as written
VARIABLE = re.compile(r"\$\{(text(?:10|[1-9]))\}")


def variables_in(template: str) -> set[str]:
    """Names of the variables a TTS text uses, e.g. {"text1", "text3"}."""
    return {m.group(1) for m in VARIABLE.finditer(template)}


def fill(template: str, fields: Mapping[str, object]) -> str:
    """The text one callee hears: each `${textN}` replaced by that callee's `textN`, or by
    nothing when the callee has none (a missing value must not be read out as "dollar")."""

    def value(match: re.Match[str]) -> str:
        found = fields.get(match.group(1))
        return "" if found is None else str(found)

    return VARIABLE.sub(value, template)
