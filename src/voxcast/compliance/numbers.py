"""Phone numbers as the do-not-call lists hold them: E.164, whatever the spelling given."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from phonenumbers import PhoneNumberFormat


class BadNumber(ValueError):
    """Not a phone number (the reason says why)."""


def normalize(raw: str, region: str | None = None) -> str:
    """E.164 ("+8613000000000") of `raw`: "+86 130 0000 0000", "0086-130...", "8613000000000"
    (international digits, as task numbers are given) or, with `region` (ISO 3166 code), a
    national spelling such as "(202) 555-0100"."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif region is None and text[:1].isdigit():
        text = "+" + text
    if not text:
        raise BadNumber("empty")
    try:
        parsed = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        raise BadNumber("not a phone number (a country code is needed)") from None
    if not phonenumbers.is_possible_number(parsed):
        raise BadNumber("not a possible number for its country")
    return str(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def callee_key(number: str) -> str:
    """The E.164 form a task's number is looked up by (a number phonenumbers cannot read is
    looked up as "+" and its digits)."""
    try:
        return normalize(number)
    except BadNumber:
        return "+" + "".join(ch for ch in number if ch.isdigit())


def regions() -> list[str]:
    """The ISO 3166 codes a national spelling may be read in, sorted."""
    return sorted(phonenumbers.SUPPORTED_REGIONS)


def read_numbers(
    rows: Iterable[list[str]], region: str | None
) -> tuple[list[str], list[tuple[int, str, str]]]:
    """The E.164 numbers of CSV rows (first column; a first line that is no number is a
    header), and the refused rows as (line, value, reason). The CLI's import and the console's
    upload both read with it, so they accept and refuse the same lines."""
    good: list[str] = []
    bad: list[tuple[int, str, str]] = []
    for line, row in enumerate(rows, start=1):
        value = row[0].strip() if row else ""
        if not value:
            if any(cell.strip() for cell in row):
                bad.append((line, value, "the first column is empty"))
            continue
        try:
            good.append(normalize(value, region))
        except BadNumber as err:
            if line == 1 and not any(ch.isdigit() for ch in value):
                continue  # a header
            bad.append((line, value, str(err)))
    return good, bad
