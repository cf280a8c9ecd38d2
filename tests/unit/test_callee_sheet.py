"""Callee-list spreadsheets (POST /v3/cc/preview/upload): every fixture is generated here."""

from __future__ import annotations

import csv
import io
import struct
import time
import zipfile
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Font

from voxcast.domain.callee_sheet import (
    CalleeRow,
    RowError,
    SheetError,
    parse_callee_sheet,
)

# ---- fixture writers ------------------------------------------------------------------------


def xlsx_bytes(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def _biff(opcode: int, payload: bytes) -> bytes:
    return struct.pack("<HH", opcode, len(payload)) + payload


def _biff_text(text: str, length_format: str) -> bytes:
    return struct.pack(length_format, len(text)) + b"\x01" + text.encode("utf-16-le")


def xls_bytes(sheets: list[tuple[str, list[list[Any]]]]) -> bytes:
    """A minimal BIFF8 workbook in an OLE2 compound file (what xlrd 2 reads).

    Cells: str -> LABEL, int/float -> NUMBER, date -> NUMBER with a date format, None -> none.
    """
    xf = struct.pack("<HHHBBBBIiH", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # General
    xf_date = struct.pack("<HHHBBBBIiH", 0, 14, 0, 0, 0, 0, 0, 0, 0, 0)  # m/d/yy
    substreams = []
    for _, rows in sheets:
        body = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0, 1997, 0, 0x0600))
        width = max((len(r) for r in rows), default=0)
        body += _biff(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    cell = struct.pack("<HHH", r, c, 0) + _biff_text(value, "<H")
                    body += _biff(0x0204, cell)
                elif isinstance(value, date):
                    serial = (value - date(1899, 12, 30)).days
                    body += _biff(0x0203, struct.pack("<HHHd", r, c, 1, float(serial)))
                else:
                    body += _biff(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))
        substreams.append(body + _biff(0x000A, b""))

    def globals_(offsets: list[int]) -> bytes:
        out = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0, 1997, 0, 0x0600))
        out += _biff(0x0042, struct.pack("<H", 1200)) + _biff(0x0022, struct.pack("<H", 0))
        out += _biff(0x00E0, xf) + _biff(0x00E0, xf_date)
        for (name, _), offset in zip(sheets, offsets, strict=True):
            out += _biff(0x0085, struct.pack("<IBB", offset, 0, 0) + _biff_text(name, "<B"))
        return out + _biff(0x000A, b"")

    offset = len(globals_([0] * len(sheets)))
    offsets = []
    for body in substreams:
        offsets.append(offset)
        offset += len(body)
    return _compound_file(globals_(offsets) + b"".join(substreams))


def _compound_file(stream: bytes) -> bytes:
    """One "Workbook" stream in a version-3 compound file (512-byte sectors, no mini stream)."""
    end, free, fat_mark, none = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    size = max(4096, -(-len(stream) // 512) * 512)  # >= 4096 keeps it out of the mini stream
    stream = stream.ljust(size, b"\0")
    n_stream = size // 512
    n_fat = 1
    while (n_stream + 1 + n_fat) > n_fat * 128:
        n_fat += 1
    assert n_fat <= 109
    dir_sector = n_stream
    fat = [*range(1, n_stream), end, end] + [fat_mark] * n_fat
    fat += [free] * (n_fat * 128 - len(fat))

    def entry(name: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = (name + "\0").encode("utf-16-le") if name else b""
        return struct.pack(
            "<64sHBBIII16sIQQIII",
            raw,
            len(raw),
            kind,
            1,
            none,
            none,
            child,
            b"",
            0,
            0,
            0,
            start,
            length,
            0,
        )

    directory = (
        entry("Root Entry", 5, 1, end, 0)
        + entry("Workbook", 2, none, 0, size)
        + entry("", 0, none, 0, 0) * 2
    )
    difat = [n_stream + 1 + i for i in range(n_fat)] + [free] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        b"",
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"",
        0,
        n_fat,
        dir_sector,
        0,
        4096,
        end,
        0,
        end,
        0,
    ) + struct.pack("<109I", *difat)
    return header + stream + directory + struct.pack(f"<{len(fat)}I", *fat)


# ---- the same list in every format ----------------------------------------------------------

CLEAN_HEADER = ["phone", "Name", "Amount", "Due"]
CLEAN_EXPECTED = [
    CalleeRow(2, "8613800138000", {"Name": "张三", "Amount": "120", "Due": "2024-05-01"}),
    CalleeRow(3, "14155550100", {"Name": "Bob", "Amount": "99.5", "Due": "2024-12-31"}),
]


def test_clean_xlsx_csv_xls_agree() -> None:
    rows: list[list[Any]] = [
        CLEAN_HEADER,
        [8613800138000, "张三", 120, datetime(2024, 5, 1)],
        ["+1 415-555-0100", "Bob", 99.5, datetime(2024, 12, 31)],
    ]
    text_rows = [
        CLEAN_HEADER,
        ["8613800138000", "张三", "120", "2024-05-01"],
        ["+1 415-555-0100", "Bob", "99.5", "2024-12-31"],
    ]
    xls_rows = [CLEAN_HEADER, *[[*r[:3], r[3].date()] for r in rows[1:]]]
    results = [
        parse_callee_sheet(xlsx_bytes([("Callees", rows)]), "Template_voice_numFiles_cn.xlsx"),
        parse_callee_sheet(csv_bytes(text_rows), "callees.CSV"),
        parse_callee_sheet(xls_bytes([("Callees", xls_rows)]), "Template_voice_numFiles_cn.xls"),
    ]
    for result in results:
        assert result.numbers == CLEAN_EXPECTED
        assert result.errors == []
        assert (result.duplicates, result.blank_rows) == (0, 0)
        assert result.headers == CLEAN_HEADER
        assert result.number_column == "phone"
    assert [r.sheet_name for r in results] == ["Callees", "callees.CSV", "Callees"]


def test_xls_data_on_second_sheet_and_float_numbers() -> None:
    data = xls_bytes(
        [
            ("Empty", []),
            ("号码表", [["姓名", "号码"], ["王五", 8613000000001.0], ["赵六", "138 0013 8000"]]),
        ]
    )
    result = parse_callee_sheet(data, "list.XLS")
    assert result.sheet_name == "号码表"
    assert result.number_column == "号码"
    assert [(r.row, r.number, r.info) for r in result.numbers] == [
        (2, "8613000000001", {"姓名": "王五"}),
        (3, "13800138000", {"姓名": "赵六"}),
    ]


# ---- messy real-world files -----------------------------------------------------------------


def test_messy_xlsx() -> None:
    book = openpyxl.Workbook()
    book.active.title = "Blank first"  # an empty first sheet: ignored
    sheet = book.create_sheet("Data")
    sheet.append(["姓名", " 号码 ", "Note", None])  # number column second, Chinese header
    sheet.merge_cells("C1:D1")  # a merged header cell: D1 has no header and is ignored
    sheet.append(["李四", 9.113000000001e12, "merged body", "x"])  # row 2
    sheet.append([None, 8613000000001.0, "n2"])  # row 3 (A2:A3 merged below)
    sheet.merge_cells("A2:A3")
    sheet.append([])  # row 4: blank in the middle
    sheet.append(["Ann", "+86 138-0013-8001", None])  # row 5
    sheet.append(["Bo", "0086 (138) 0013.8002", "  "])  # row 6
    sheet.append(["Cy", 9113000000001.004, "binary noise"])  # row 7: duplicate of row 2
    sheet.append(["  ", None, ""])  # row 8: whitespace only, blank
    sheet.cell(row=12, column=1).font = Font(bold=True)  # styled but empty: trailing blank rows
    out = io.BytesIO()
    book.save(out)

    result = parse_callee_sheet(out.getvalue(), "messy.xlsx")

    assert result.sheet_name == "Data"
    assert result.headers == ["姓名", "号码", "Note"]
    assert result.number_column == "号码"
    assert [(r.row, r.number, r.info) for r in result.numbers] == [
        (2, "9113000000001", {"姓名": "李四", "Note": "merged body"}),
        (3, "8613000000001", {"姓名": "", "Note": "n2"}),
        (5, "8613800138001", {"姓名": "Ann", "Note": ""}),
        (6, "8613800138002", {"姓名": "Bo", "Note": ""}),
    ]
    assert result.errors == []
    assert result.duplicates == 1
    assert result.blank_rows == 1 + 1 + 3 + 1  # row 4, row 8, the gap 9-11, row 12


def test_long_floats_with_excel_noise_are_rounded_and_short_fractions_refused() -> None:
    # 9.1130000000001E+12 is 9113000000000.1: Excel's 15 significant digits, not a real
    # fraction, so the number is 9113000000000; a short number must be whole
    data = xlsx_bytes([("S", [["phone"], [9.1130000000001e12], [9.113000000001e12], [12345.5]])])
    result = parse_callee_sheet(data, "f.xlsx")
    assert [r.number for r in result.numbers] == ["9113000000000", "9113000000001"]
    assert result.errors == [RowError(4, "phone", "not a whole number: 12345.5")]


def test_csv_gbk() -> None:
    data = csv_bytes([["号码", "姓名"], ["13800138000", "张三"]], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse_callee_sheet(data, "gbk.csv")
    assert result.number_column == "号码"
    assert result.numbers == [CalleeRow(2, "13800138000", {"姓名": "张三"})]


def test_csv_utf8_bom_semicolon() -> None:
    data = csv_bytes(
        [["Name", "Called Number", "Note"], ["Zoë", "+44 20 7946 0000", "a, b"]],
        encoding="utf-8-sig",
        delimiter=";",
    )
    result = parse_callee_sheet(data, "bom.csv")
    assert result.headers == ["Name", "Called Number", "Note"]
    assert result.numbers == [CalleeRow(2, "442079460000", {"Name": "Zoë", "Note": "a, b"})]


def test_csv_tab_and_no_known_header_uses_first_column() -> None:
    data = csv_bytes([["Ziel", "Kunde"], ["0049 30 1234567", "Ann"]], delimiter="\t")
    result = parse_callee_sheet(data, "tab.csv")
    assert result.number_column == "Ziel"
    assert result.numbers == [CalleeRow(2, "49301234567", {"Kunde": "Ann"})]


# ---- per-row errors, duplicates --------------------------------------------------------------


def test_row_errors_report_spreadsheet_row_and_column() -> None:
    rows: list[list[Any]] = [
        [],  # row 1 blank: the header is the first non-blank row
        ["Name", "Tel"],  # row 2
        ["a", "abc"],  # row 3
        ["b", "12345"],  # row 4: too short
        ["c", 1.5],  # row 5
        ["d", 13800138000],  # row 6: good
        [],  # row 7
        ["e", None],  # row 8: empty number
        ["f", "9.113E+12"],  # row 9: text in scientific notation
        ["g", -13800138000],  # row 10
        ["h", "1234567890123456"],  # row 11: 16 digits
    ]
    result = parse_callee_sheet(xlsx_bytes([("S", rows)]), "errors.xlsx")
    assert [(e.row, e.column) for e in result.errors] == [
        (3, "Tel"),
        (4, "Tel"),
        (5, "Tel"),
        (8, "Tel"),
        (9, "Tel"),
        (10, "Tel"),
        (11, "Tel"),
    ]
    assert result.errors[2].reason == "not a whole number: 1.5"
    assert "scientific" in result.errors[4].reason
    assert result.numbers == [CalleeRow(6, "13800138000", {"Name": "d"})]
    assert result.blank_rows == 1


def test_duplicates_counted_after_normalising() -> None:
    rows = [
        ["phone", "n"],
        ["+8613800138000", "1"],
        ["008613800138000", "2"],
        ["86 138 0013 8000", "3"],
        ["8613800138000.0", "4"],
        ["13800138000", "5"],
    ]
    result = parse_callee_sheet(csv_bytes(rows), "d.csv")
    assert [(r.row, r.number, r.info["n"]) for r in result.numbers] == [
        (2, "8613800138000", "1"),
        (6, "13800138000", "5"),
    ]
    assert result.duplicates == 3


# ---- whole-file errors -----------------------------------------------------------------------


def _code(data: bytes, name: str, **kwargs: Any) -> str:
    with pytest.raises(SheetError) as info:
        parse_callee_sheet(data, name, **kwargs)
    return info.value.code


def test_duplicate_headers() -> None:
    data = xlsx_bytes([("S", [["phone", "Name", " name "], ["13800138000", "a", "b"]])])
    assert _code(data, "h.xlsx") == "-43"
    assert _code(csv_bytes([["Phone", "PHONE"], ["13800138000", "1"]]), "h.csv") == "-43"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def test_format_wrong() -> None:
    good = xlsx_bytes([("S", [["phone"], ["13800138000"]])])
    assert _code(PNG, "pic.xlsx") == "-39"
    assert _code(good[: len(good) // 2], "cut.xlsx") == "-39"
    assert _code(good[:-30], "cut_cd.xlsx") == "-39"  # central directory damaged
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert _code(plain_zip.getvalue(), "zip.xlsx") == "-39"
    assert _code(b"phone\n13800138000\n", "text.xls") == "-39"
    assert _code(good, "xlsx_named.xls") == "-39"
    assert _code(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 600, "ole_junk.xls") == "-39"
    assert _code(PNG, "pic.csv") == "-39"
    assert _code(good, "list.txt") == "-39"
    assert _code(good, "noextension") == "-39"


def test_empty_files() -> None:
    assert _code(b"", "e.csv") == "-21"
    assert _code(b"\n\n ,, \n", "e.csv") == "-21"
    assert _code(xlsx_bytes([("A", []), ("B", [[None, None]])]), "e.xlsx") == "-21"
    assert _code(csv_bytes([["phone", "name"], [], ["", ""]]), "header_only.csv") == "-21"
    assert _code(xls_bytes([("A", [])]), "e.xls") == "-21"


def test_too_many_rows() -> None:
    rows: list[list[Any]] = [["phone"]] + [[13800138000 + i] for i in range(5)]
    rows.insert(3, [])  # blank rows do not count
    data = xlsx_bytes([("S", rows)])
    assert len(parse_callee_sheet(data, "ok.xlsx", max_rows=5).numbers) == 5
    assert _code(data, "ok.xlsx", max_rows=4) == "-40"
    assert _code(csv_bytes(rows), "ok.csv", max_rows=4) == "-40"
    assert _code(xls_bytes([("S", rows)]), "ok.xls", max_rows=4) == "-40"


def test_huge_declared_size_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(xlsx_bytes([("S", [["phone"], ["13800138000"]])]))
    directory = data.rfind(b"PK\x01\x02")  # the last central-directory entry
    struct.pack_into("<I", data, directory + 24, 0xFFFF0000)  # declares ~4 GB uncompressed
    opened: list[object] = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    with pytest.raises(SheetError) as info:
        parse_callee_sheet(bytes(data), "bomb.xlsx")
    assert info.value.code == "-39"
    assert "200 MB" in info.value.reason
    assert opened == []


def test_deflate_bomb_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b" " * (1 << 20)
            for _ in range(201):
                member.write(chunk)
    assert len(out.getvalue()) < 1 << 20
    assert _code(out.getvalue(), "bomb.xlsx") == "-39"


def test_a_big_xlsx_keeps_every_row_and_the_row_cap_holds() -> None:
    # how fast is bench/sheet.py's business (a speed goal is no test); this checks the rows
    rows = 5_000
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Callees")
    sheet.append(["phone", "name", "amount"])
    for i in range(rows):
        sheet.append([8613000000000 + i, f"name {i}", i * 1.5])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()

    result = parse_callee_sheet(data, "big.xlsx")

    assert len(result.numbers) == rows
    assert result.numbers[0] == CalleeRow(2, "8613000000000", {"name": "name 0", "amount": "0"})
    assert result.numbers[-1] == CalleeRow(
        rows + 1, "8613000004999", {"name": "name 4999", "amount": "7498.5"}
    )
    assert _code(data, "big.xlsx", max_rows=rows - 1) == "-40"
    assert len(parse_callee_sheet(data, "big.xlsx", max_rows=rows).numbers) == rows


def test_far_away_row_is_not_walked_to() -> None:
    # a tiny xlsx with one cell at row 999,999,999: openpyxl would fill the gap with blank rows
    good = io.BytesIO(xlsx_bytes([("S", [["phone"], ["13800138000"]])]))
    out = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                far = b'<row r="999999999"><c r="XFD999999999"><v>1</v></c></row>'
                content = content.replace(b"</sheetData>", far + b"</sheetData>")
            target.writestr(member, content)
    started = time.perf_counter()
    assert _code(out.getvalue(), "far.xlsx") == "-40"
    assert time.perf_counter() - started < 10


def test_a_cell_over_the_length_cap_refuses_the_file_naming_row_and_column() -> None:
    rows = [["Phone", "Note"], ["8613000000000", "ok"], ["8613000000001", "n" * 1001]]
    for data, name in ((xlsx_bytes([("S", rows)]), "long.xlsx"), (csv_bytes(rows), "long.csv")):
        with pytest.raises(SheetError) as info:
            parse_callee_sheet(data, name)
        assert info.value.code == "-39"
        assert info.value.reason == "row 3, column 'Note' (B): a cell longer than 1000 characters"
    rows[2][1] = "n" * 1000  # at the cap: kept whole
    assert parse_callee_sheet(csv_bytes(rows), "ok.csv").numbers[1].info == {"Note": "n" * 1000}


def test_a_header_over_the_length_cap_refuses_the_file() -> None:
    rows = [["Phone", "h" * 101], ["8613000000000", "ok"]]
    with pytest.raises(SheetError) as info:
        parse_callee_sheet(csv_bytes(rows), "long.csv")
    assert info.value.code == "-39"
    assert info.value.reason == "row 1, column B: a header name longer than 100 characters"
