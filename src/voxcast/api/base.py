"""Shared pieces of request models: the vendor's lenient typing and common field rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

_DIGITS = re.compile(r"^[0-9]+$")


class VendorModel(BaseModel):
    """A request body: unknown fields are ignored and numbers are accepted where strings are
    documented (and numeric strings where integers are), as the vendor's Java backend does."""

    model_config = ConfigDict(
        extra="ignore",
        coerce_numbers_to_str=True,
        str_strip_whitespace=True,
        populate_by_name=True,
    )


def _phone(value: str) -> str:
    if not _DIGITS.match(value) or not 7 <= len(value) <= 15:
        raise ValueError("must be 7-15 digits: country code and number, no '+'")
    return value


def storable_text(value: object) -> object:
    """A `mode="before"` field check: a string must be one the database can keep.

    PostgreSQL refuses NUL characters and lone surrogates (valid in JSON as \\u0000 and
    \\ud800); unchecked, they surface as -18 from the driver instead of -22 naming the field.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text") from None
    return value


#: `storable_text` as a pattern, checked in pydantic-core: for strings inside lists and the
#: 100,000 callees of a task, which the per-model validator does not reach (a constrained
#: string also refuses lone surrogates); `validation_reason` words its errors the same way
STORABLE_PATTERN = r"^[^\x00]*$"
#: a callee's text1..text10: the vendor cuts it to 30 characters, so longer is accepted up to
#: the length of the TTS text it is put into
CalleeText = Annotated[str, StringConstraints(max_length=1000, pattern=STORABLE_PATTERN)]
#: an AI intent id or label in recallIntent ("101")
IntentName = Annotated[str, StringConstraints(max_length=64, pattern=STORABLE_PATTERN)]


def _display(value: str | None) -> str | None:
    if value in (None, ""):
        return value
    assert value is not None
    if not _DIGITS.match(value) or len(value) > 20:
        raise ValueError("must be 0-20 digits")
    return value


#: a database id: a positive 32-bit integer (larger values cannot name anything)
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
#: any other integer field: bounded so no value overflows a database column
Int32 = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]

Phone = Annotated[str, AfterValidator(_phone)]
DisplayNum = Annotated[str | None, AfterValidator(_display), Field(default=None)]


class PageQuery(VendorModel):
    """The vendor's paging request: `{"current":1,"size":10,"params":{...}}`."""

    current: int = Field(default=1, ge=1, le=10_000_000, description="Page number, from 1")
    size: int = Field(default=10, ge=1, le=100, description="Page size, 1-100")


def page_body(
    records: list[object], total: int, current: int, size: int, *, search_count: bool = True
) -> dict[str, object]:
    """The vendor's paging response body; `searchCount` left out where the vendor's page
    shows none (sipQuery, fileQuery)."""
    pages = (total + size - 1) // size if size else 0
    out: dict[str, object] = {
        "records": records,
        "total": total,
        "size": size,
        "current": current,
        "pages": pages,
    }
    if search_count:
        out["searchCount"] = True
    return out


def _default_when_null(default: int) -> Callable[[object], object]:
    def check(value: object) -> object:
        return default if value is None else value

    return check


#: paging fields of the SIP-phone family: the vendor's Java SDK sends every unset field as
#: null (`"current":null`), which means the documented default
Current = Annotated[
    int, BeforeValidator(_default_when_null(1)), Field(default=1, ge=1, le=10_000_000)
]
Size = Annotated[int, BeforeValidator(_default_when_null(25)), Field(default=25, ge=1, le=100)]
