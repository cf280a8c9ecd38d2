"""Callee lists parsed in a child process: the same result as in-process, and a refusal
(-39 naming the limit) when the child needs more memory or time than allowed."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import shared_strings_bomb
from tests.unit.test_callee_sheet import xlsx_bytes
from voxcast.domain.callee_sheet import SheetError, parse_callee_sheet
from voxcast.services.sheet_reader import Limits, read_sheet

ROWS = [["Name", "Phone", "Plan"], ["Ann", 8613000000000.0, "gold"], ["Bad", "12ab", "x"]]


async def test_the_child_returns_what_parsing_in_process_returns() -> None:
    data = xlsx_bytes([("Callees", ROWS)])
    got = await read_sheet(data, "list.xlsx", Limits(100, 30, 512 * 2**20))
    assert got == parse_callee_sheet(data, "list.xlsx")
    assert [n.number for n in got.numbers] == ["8613000000000"]


async def test_a_sheet_error_of_the_child_is_raised_with_its_code() -> None:
    data = xlsx_bytes([("S", [["Phone", "phone"], ["8613000000000", "x"]])])
    with pytest.raises(SheetError) as info:
        await read_sheet(data, "dup.xlsx", Limits(100, 30, 512 * 2**20))
    assert info.value.code == "-43"


async def test_a_sheet_needing_more_memory_than_allowed_is_refused() -> None:
    with pytest.raises(SheetError) as info:
        await read_sheet(shared_strings_bomb(60), "bomb.xlsx", Limits(100, 60, 150 * 2**20))
    assert info.value.code == "-39"
    assert info.value.reason == (
        "file: reading it needs more than 150 MB of memory (the limit for one spreadsheet)"
    )


async def test_a_sheet_taking_longer_than_allowed_is_refused_and_its_child_killed() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(SheetError) as info:
        await read_sheet(shared_strings_bomb(60), "bomb.xlsx", Limits(100, 0.5, 2**31))
    assert loop.time() - started < 3
    assert info.value.code == "-39"
    assert info.value.reason == ("file: not read within 0.5 s (the limit for one spreadsheet)")
