"""The rates file parser shared by `voxcast admin rates import` and the console: good rows, and
each bad line as line, column, value and reason, printed by the CLI as one message."""

from __future__ import annotations

import io
from decimal import Decimal

from voxcast.services.rates import RateLineError, RateRow, parse_rate_csv


def test_bad_lines_are_reported_with_line_column_value_and_reason() -> None:
    text = "prefix,rate\n+44,0.05,UK\n44x,1\n4477,cheap\n\n4478,-1\n1234567890123456789,1\none\n"
    rows, errors = parse_rate_csv(io.StringIO(text))
    assert rows == [RateRow(2, "44", Decimal("0.05"), "UK")]
    assert errors == [
        RateLineError(3, "prefix", "44x", "'44x' is not digits"),
        RateLineError(4, "rate", "cheap", "'cheap' is not a number"),
        RateLineError(6, "rate", "-1", "must be a non-negative number"),
        RateLineError(7, "prefix", "1234567890123456789", "longer than 18 digits"),
        RateLineError(8, "", "one", "expected prefix,rate[,description]"),
    ]
    # what the CLI prints for each skipped line
    assert [str(e) for e in errors] == [
        "line 3, column prefix: '44x' is not digits",
        "line 4, column rate: 'cheap' is not a number",
        "line 6, column rate: must be a non-negative number",
        "line 7, column prefix: longer than 18 digits",
        "line 8: expected prefix,rate[,description]",
    ]
