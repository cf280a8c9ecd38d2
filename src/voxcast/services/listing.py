"""Filters shared by the list endpoints: a creation-time window in the account's zone and a
fuzzy text match."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from voxcast.domain.codes import ApiError, Code
from voxcast.domain.schedule import parse_send_time


def created_between(
    column: InstrumentedAttribute[Any], params: dict[str, Any], zone_name: str
) -> list[Any]:
    """Conditions for `params.strTime` ≤ column ≤ `params.endTime` ("yyyy-MM-dd HH:mm:ss"
    read in the account's zone); -11 naming the parameter when one is malformed."""
    conditions: list[Any] = []
    for key, op in (("strTime", column.__ge__), ("endTime", column.__le__)):
        if params.get(key):
            try:
                conditions.append(op(parse_send_time(str(params[key]), zone_name)))
            except ValueError:
                raise ApiError(
                    Code.TIME_FORMAT, f"params.{key}: must be yyyy-MM-dd HH:mm:ss"
                ) from None
    return conditions


def matching(column: InstrumentedAttribute[Any], text: str) -> Any:
    """The vendor's fuzzy search: `column` contains `text`, case-insensitively (as its MySQL
    collation compares), with `%` and `_` in `text` taken literally. Same on both databases."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
