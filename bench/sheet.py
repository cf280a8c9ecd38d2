"""Callee sheets: rows per CPU second that `parse_callee_sheet` reads from a 100,000-row
.xlsx (numbers checked, variables kept, limits enforced), against openpyxl's own read-only
iteration of the same file (values only, no checks) in one run.

Prints one line: both rates and their ratio (voxcast's share of the bare reader's speed).
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import openpyxl

from voxcast.domain.callee_sheet import parse_callee_sheet

ROWS = int(os.environ.get("BENCH_SHEET_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_SHEET_ROUNDS", "2"))


def make_xlsx(rows: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Callees")
    sheet.append(["phone", "name", "amount"])
    for i in range(rows):
        sheet.append([8613000000000 + i, f"name {i}", i * 1.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bare_read(data: bytes) -> int:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return count - 1


def ours(data: bytes) -> int:
    return len(parse_callee_sheet(data, "bench.xlsx", max_rows=ROWS).numbers)


def cpu_seconds(work: Callable[[bytes], int], data: bytes) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        assert work(data) == ROWS
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    data = make_xlsx(ROWS)
    mine, bare = cpu_seconds(ours, data), cpu_seconds(bare_read, data)
    print(
        f"sheet: {ROWS / mine:,.0f} rows/CPU-s through parse_callee_sheet "
        f"(openpyxl read-only {ROWS / bare:,.0f} rows/CPU-s), ratio {bare / mine:.2f} "
        f"({ROWS:,} rows, {len(data) / 1e6:.1f} MB, {mine:.2f} s)"
    )


if __name__ == "__main__":
    main()
