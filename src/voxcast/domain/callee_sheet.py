"""Parse uploaded call-center callee lists (.xlsx, .xls, .csv) for POST /v3/cc/preview/upload.

Pure: bytes in, SheetResult out; whole-file problems raise SheetError with the vendor's codes.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any, Final, TypeVar

__all__ = [
    "NUMBER_HEADERS",
    "CalleeRow",
    "RowError",
    "SheetError",
    "SheetResult",
    "parse_callee_sheet",
]

# Vendor error codes (strings, as the vendor API returns them).
FORMAT_WRONG: Final = "-39"
TOO_MANY_ROWS: Final = "-40"
DUPLICATE_HEADERS: Final = "-43"
NO_NUMBERS: Final = "-21"

MAX_XLSX_UNCOMPRESSED: Final = 200 * 1024 * 1024
"""An .xlsx whose zip declares more uncompressed bytes than this is refused unread."""
MAX_COLUMNS: Final = 256
"""Columns past this one (the .xls limit) are ignored."""
HEADER_SEARCH_ROWS: Final = 1000
"""The header must be within a sheet's first rows; a sheet without one there counts as empty."""
EXCEL_MAX_ROWS: Final = 1_048_576
MAX_CELL_CHARS: Final = 1000
"""A longer cell in a read column (the number or a called-information column) refuses the file."""
MAX_HEADER_CHARS: Final = 100
"""A longer header name refuses the file (it is repeated in every row kept)."""

NUMBER_HEADERS: Final = frozenset(
    {
        "phone",
        "phone number",
        "number",
        "mobile",
        "callee",
        "callee number",
        "calleenumber",
        "called number",
        "tel",
        "电话",
        "号码",
        "手机号",
        "被叫号码",
    }
)

_T = TypeVar("_T")
_Row = Sequence[object]
_RowSource = Callable[[int, int], Iterator[_Row]]
"""(first 1-based row, number of columns) -> rows from that row on, consecutive."""


#: floats at least this large are phone numbers with precision noise, rounded to the nearest
LONG_NUMBER = 1e6


class SheetError(Exception):
    """The whole file is refused; ``code`` is the vendor's error code as a string."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based spreadsheet row, header row included (what Excel shows)
    column: str  # header name
    reason: str


@dataclass(frozen=True, slots=True)
class CalleeRow:
    row: int
    number: str  # 7-15 ASCII digits, no "+" or "00" prefix
    info: dict[str, str]  # called-information header -> cell text


@dataclass(slots=True)
class SheetResult:
    numbers: list[CalleeRow]
    errors: list[RowError]
    duplicates: int  # the vendor's numberSameCount
    blank_rows: int
    headers: list[str]  # every non-empty header, in sheet order
    number_column: str
    sheet_name: str


def parse_callee_sheet(data: bytes, file_name: str, *, max_rows: int = 100_000) -> SheetResult:
    """Parse a callee list; the format comes from the extension and is checked against the bytes."""
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    with ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
        if ext == "xlsx":
            sheets = _xlsx_sheets(data, stack)
        elif ext == "xls":
            sheets = _xls_sheets(data)
        elif ext == "csv":
            sheets = _csv_sheets(data, file_name)
        else:
            raise SheetError(FORMAT_WRONG, f"unsupported file type {ext or file_name!r}")
        return _parse_sheets(sheets, max_rows)


# ---- the format-independent part ----------------------------------------------------------


def _parse_sheets(sheets: Iterable[tuple[str, _RowSource]], max_rows: int) -> SheetResult:
    for name, source in sheets:
        found = _find_header(source)
        if found is not None:
            return _parse_body(name, source, found[0], found[1], max_rows)
    raise SheetError(NO_NUMBERS, "no header row found: the file has no data")


def _find_header(source: _RowSource) -> tuple[int, _Row] | None:
    rows = source(1, MAX_COLUMNS)
    for row_number, row in enumerate(islice(rows, HEADER_SEARCH_ROWS), start=1):
        if not _is_blank(row):
            return row_number, row
    return None


def _parse_body(
    sheet_name: str, source: _RowSource, header_row: int, header: _Row, max_rows: int
) -> SheetResult:
    columns = [(i, _text(v)) for i, v in enumerate(header)]
    columns = [(i, name) for i, name in columns if name]
    for i, name in columns:
        if len(name) > MAX_HEADER_CHARS:
            raise SheetError(
                FORMAT_WRONG,
                f"row {header_row}, column {_letter(i)}: a header name longer than "
                f"{MAX_HEADER_CHARS} characters",
            )
    seen_names: dict[str, str] = {}
    for _, name in columns:
        key = name.casefold()
        if key in seen_names:
            raise SheetError(
                DUPLICATE_HEADERS,
                f"header names must be unique: {seen_names[key]!r} and {name!r}",
            )
        seen_names[key] = name
    number_index, number_name = next(
        ((i, n) for i, n in columns if _header_key(n) in NUMBER_HEADERS), columns[0]
    )
    info_columns = [(i, n) for i, n in columns if i != number_index]
    width = columns[-1][0] + 1

    numbers: list[CalleeRow] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    duplicates = blank_rows = data_rows = 0
    row_number = header_row
    for row in source(header_row + 1, width):
        row_number += 1
        if row_number > EXCEL_MAX_ROWS:
            raise SheetError(TOO_MANY_ROWS, f"more than {EXCEL_MAX_ROWS} rows")
        if _is_blank(row):
            blank_rows += 1
            continue
        data_rows += 1
        if data_rows > max_rows:
            raise SheetError(TOO_MANY_ROWS, f"more than {max_rows} callee rows")
        for i, name in columns:
            value = _cell(row, i)
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                raise SheetError(
                    FORMAT_WRONG,
                    f"row {row_number}, column {name!r} ({_letter(i)}): a cell longer than "
                    f"{MAX_CELL_CHARS} characters",
                )
        number, problem = _normalize_number(_cell(row, number_index))
        if problem is not None:
            errors.append(RowError(row_number, number_name, problem))
            continue
        if number in seen:
            duplicates += 1
            continue
        seen.add(number)
        info = {name: _text(_cell(row, i)) for i, name in info_columns}
        numbers.append(CalleeRow(row_number, number, info))
    if data_rows == 0:
        raise SheetError(NO_NUMBERS, f"sheet {sheet_name!r} has a header row but no callee rows")
    return SheetResult(
        numbers=numbers,
        errors=errors,
        duplicates=duplicates,
        blank_rows=blank_rows,
        headers=[name for _, name in columns],
        number_column=number_name,
        sheet_name=sheet_name,
    )


def _letter(index: int) -> str:
    """The spreadsheet column name of a 0-based index: A, B, ..., Z, AA, ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _cell(row: _Row, index: int) -> object:
    return row[index] if index < len(row) else None


def _is_blank(row: _Row) -> bool:
    if row.count(None) == len(row):  # fast path, done in C
        return True
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _header_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", unicodedata.normalize("NFKC", name).casefold()).strip()


_SEPARATORS: Final = re.compile(r"[\s\-.()\u2010-\u2015]")
_DIGITS: Final = re.compile(r"[0-9]{7,15}")
_WHOLE_DECIMAL: Final = re.compile(r"([0-9]+)\.0+")
_SCIENTIFIC: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+")


def _normalize_number(value: object) -> tuple[str, str | None]:
    """The number as 7-15 digits, or ("", reason)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "", "the number is empty"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "", f"not a phone number: {_text(value)!r}"
    if isinstance(value, int | float) and value < 0:
        return "", f"not a phone number: {_text(value)!r}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "", f"not a phone number: {value!r}"
        nearest = round(value)
        # a long number carries Excel's precision noise (it keeps 15 significant digits, so
        # 9.1130000000001E+12 is 9113000000000.1): rounded; a short one must be whole
        if value < LONG_NUMBER and abs(value - nearest) > 0.01:
            return "", f"not a whole number: {value!r}"
        text = str(nearest)
    elif isinstance(value, int):
        text = str(value)
    else:
        text = unicodedata.normalize("NFKC", value).strip()  # full-width digits, ＋ and （）
        if _SCIENTIFIC.fullmatch(text):
            return "", f"number in scientific notation, digits may be lost: {text!r}"
        whole = _WHOLE_DECIMAL.fullmatch(text)
        if whole:
            text = whole.group(1)
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not _DIGITS.fullmatch(digits):
        return "", f"not a phone number (7-15 digits expected): {text!r}"
    return digits, None


def _text(value: object) -> str:
    """A cell as text: whole floats as ints, dates in ISO format, None as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _guarded(rows: Iterator[_T], what: str) -> Iterator[_T]:
    """Turn any reader exception into SheetError(-39); our own code runs outside this."""
    try:
        yield from rows
    except SheetError:
        raise
    except Exception as exc:
        raise SheetError(FORMAT_WRONG, f"unreadable {what}: {type(exc).__name__}") from exc


# ---- .xlsx ---------------------------------------------------------------------------------


def _xlsx_sheets(data: bytes, stack: ExitStack) -> Iterator[tuple[str, _RowSource]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:
        raise SheetError(FORMAT_WRONG, "not an .xlsx file (not a zip archive)") from exc
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise SheetError(FORMAT_WRONG, "not an .xlsx file (no spreadsheet parts in the zip)")
    if sum(info.file_size for info in infos) > MAX_XLSX_UNCOMPRESSED:
        raise SheetError(FORMAT_WRONG, "the .xlsx unpacks to more than 200 MB")
    try:
        import openpyxl  # type: ignore[import-untyped]

        book: Any = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise SheetError(FORMAT_WRONG, f"unreadable .xlsx: {type(exc).__name__}") from exc
    stack.callback(book.close)
    return _xlsx_iter(book)


def _xlsx_iter(book: Any) -> Iterator[tuple[str, _RowSource]]:
    for sheet in _guarded(iter(book.worksheets), ".xlsx"):
        try:
            sheet.reset_dimensions()  # the stored dimension may be wrong; never trust it
            name = str(sheet.title)
        except Exception as exc:
            raise SheetError(FORMAT_WRONG, f"unreadable .xlsx: {type(exc).__name__}") from exc

        def source(first: int, width: int, sheet: Any = sheet) -> Iterator[_Row]:
            rows = sheet.iter_rows(min_row=first, max_col=width, values_only=True)
            return _guarded(rows, ".xlsx")

        yield name, source


# ---- .xls ----------------------------------------------------------------------------------

_OLE2_MAGIC: Final = bytes.fromhex("D0CF11E0A1B11AE1")


def _xls_sheets(data: bytes) -> Iterator[tuple[str, _RowSource]]:
    if not data.startswith(_OLE2_MAGIC):
        raise SheetError(FORMAT_WRONG, "not an .xls file (no OLE2 header)")
    try:
        import xlrd  # type: ignore[import-untyped]

        book: Any = xlrd.open_workbook(
            file_contents=data, logfile=io.StringIO(), ragged_rows=True, on_demand=True
        )
        count = int(book.nsheets)
    except Exception as exc:
        raise SheetError(FORMAT_WRONG, f"unreadable .xls: {type(exc).__name__}") from exc
    return _xls_iter(xlrd, book, count)


def _xls_iter(xlrd: Any, book: Any, count: int) -> Iterator[tuple[str, _RowSource]]:
    for index in range(count):
        try:
            sheet = book.sheet_by_index(index)
            name = str(sheet.name)
        except Exception as exc:
            raise SheetError(FORMAT_WRONG, f"unreadable .xls: {type(exc).__name__}") from exc

        def source(first: int, width: int, sheet: Any = sheet) -> Iterator[_Row]:
            return _guarded(_xls_rows(xlrd, book.datemode, sheet, first, width), ".xls")

        yield name, source


def _xls_rows(xlrd: Any, datemode: int, sheet: Any, first: int, width: int) -> Iterator[_Row]:
    for index in range(first - 1, int(sheet.nrows)):
        end = min(width, int(sheet.row_len(index)))
        types = sheet.row_types(index, 0, end)
        values = sheet.row_values(index, 0, end)
        yield [_xls_value(xlrd, datemode, t, v) for t, v in zip(types, values, strict=True)]


def _xls_value(xlrd: Any, datemode: int, ctype: int, value: Any) -> object:
    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_NUMBER:
        return float(value)
    if ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(value, datemode)
        except Exception:
            return float(value)
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return str(xlrd.error_text_from_code.get(value, "#ERROR"))
    return str(value)


# ---- .csv ----------------------------------------------------------------------------------

_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _csv_sheets(data: bytes, file_name: str) -> Iterator[tuple[str, _RowSource]]:
    text = _decode(data)
    if _CONTROL_CHARS.search(text):
        raise SheetError(FORMAT_WRONG, "not a .csv file (binary content)")
    delimiter = _sniff_delimiter(text)

    def source(first: int, width: int) -> Iterator[_Row]:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = (row[:width] for row in islice(reader, first - 1, None))
        return _guarded(rows, ".csv")

    return iter([(file_name, source)])


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SheetError(FORMAT_WRONG, "not a .csv file (bad UTF-16)") from exc
    for encoding in ("utf-8", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    """The most frequent of , ; tab on the first non-blank line, outside quotes ("," on ties)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = dict.fromkeys(",;\t", 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return max(counts, key=lambda d: counts[d])  # max() keeps the first of equal counts
