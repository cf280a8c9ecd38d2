"""numberInfoList taken apart: the bulk path a request's own body takes (its dicts reused as the
callees' infos) gives exactly what the item-by-item rules give, whatever the list holds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from voxcast.services.tasks import collect_numbers

LISTS: dict[str, list[dict[str, Any]]] = {
    "plain": [
        {"calleeNumber": "8613000000001", "text1": "Ann", "text2": "May 3"},
        {"calleeNumber": "8613000000002", "text1": "Bob"},
        {"calleeNumber": "8613000000003"},
    ],
    "a duplicate number": [
        {"calleeNumber": "8613000000001", "text1": "first"},
        {"calleeNumber": "8613000000002", "text1": "Bob"},
        {"calleeNumber": "8613000000001", "text1": "second"},
    ],
    "a text over 30 characters": [
        {"calleeNumber": "8613000000001", "text1": "x" * 31, "text2": "kept"},
        {"calleeNumber": "8613000000002", "text1": "y" * 30},
    ],
    "empty and null texts": [
        {"calleeNumber": "8613000000001", "text1": "", "text2": None, "text3": "Ann"},
        {"calleeNumber": "8613000000002", "text1": None},
    ],
    "the number not first": [
        {"text2": "b", "calleeNumber": "8613000000001", "text1": "a"},
    ],
}


def _item_by_item(infos: list[dict[str, Any]]) -> list[tuple[str, dict[str, str] | None]]:
    """The rules of numberInfoList, one item at a time (docs/api: text1..text10)."""
    out: list[tuple[str, dict[str, str] | None]] = []
    seen: set[str] = set()
    for item in infos:
        number = item["calleeNumber"]
        if number in seen:
            continue
        seen.add(number)
        info = {k: v[:30] for k, v in item.items() if k != "calleeNumber" and v}
        out.append((number, info or None))
    return out


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("reuse", [False, True])
def test_both_paths_give_the_item_by_item_result(name: str, reuse: bool) -> None:
    given = copy.deepcopy(LISTS[name])
    numbers, field = collect_numbers(given, None, reuse=reuse)
    assert field == "numberInfoList"
    assert numbers == _item_by_item(LISTS[name])
    # key order is kept too: the infos are stored as JSON text
    assert [list(i or ()) for _, i in numbers] == [
        list(i or ()) for _, i in _item_by_item(LISTS[name])
    ]
    if not reuse:
        assert given == LISTS[name]


def test_a_request_body_is_taken_apart_without_copying_its_dicts() -> None:
    body = copy.deepcopy(LISTS["plain"])
    numbers, _ = collect_numbers(body, None, reuse=True)
    # the callees' infos are the body's own dicts, now without their number
    assert numbers[0][1] is body[0]
    assert numbers[1][1] is body[1]
    assert numbers[2][1] is None
    assert body[0] == {"text1": "Ann", "text2": "May 3"}


def test_a_list_the_bulk_path_cannot_take_is_left_unchanged_for_the_loop() -> None:
    body = copy.deepcopy(LISTS["a duplicate number"])
    numbers, _ = collect_numbers(body, None, reuse=True)
    assert body == LISTS["a duplicate number"]
    assert [n for n, _ in numbers] == ["8613000000001", "8613000000002"]
