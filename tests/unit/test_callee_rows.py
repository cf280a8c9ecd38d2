"""The callee rows a task's numbers are stored as: built a batch at a time with each batch's
infos encoded together, they are exactly the rows built one number at a time."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from voxcast.services import tasks
from voxcast.services.tasks import Number


def _one_by_one(
    task_id: int, numbers: list[Number], frozen: list[Decimal], postgres: bool
) -> list[tuple[object, ...]]:
    return [
        (
            task_id,
            i,
            n,
            json.dumps(info, ensure_ascii=False, separators=(",", ":")) if info else None,
            0,
            0,
            rate if postgres else float(rate),
        )
        for i, ((n, info), rate) in enumerate(zip(numbers, frozen, strict=True), start=1)
    ]


def _numbers(count: int, info: object) -> list[Number]:
    return [(f"8613{i:09d}", info(i)) for i in range(count)]  # type: ignore[operator]


CASES = {
    "every number with texts": lambda i: {"text1": f"name{i}", "text2": "x"},
    "some without texts": lambda i: None if i % 3 == 0 else {"text1": f"n{i}"},
    "some with an empty info": lambda i: {} if i % 5 == 0 else {"text1": f"n{i}"},
    "texts holding the cut between objects": lambda i: {"text1": "a},{b" if i % 7 == 0 else "c"},
    "quotes, backslashes, NUL and non-ASCII": lambda i: {"text1": f'"\\\x00 ü 名{i}', "text3": "}"},
}


@pytest.mark.parametrize("postgres", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("count", [1, 4_999, 5_000, 12_345])
def test_rows_are_those_made_one_number_at_a_time(case: str, count: int, postgres: bool) -> None:
    numbers = _numbers(count, CASES[case])
    frozen = [Decimal("0.01") if i % 2 else Decimal("0.025") for i in range(count)]
    rows = list(tasks._rows(7, numbers, frozen, postgres))
    assert rows == _one_by_one(7, numbers, frozen, postgres)


def test_a_batch_of_given_infos_is_encoded_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    encode = tasks._to_json

    def counted(value: object) -> str:
        calls.append(value)
        return encode(value)  # type: ignore[arg-type]

    monkeypatch.setattr(tasks, "_to_json", counted)
    numbers = _numbers(tasks._ROW_BATCH * 2, CASES["every number with texts"])
    list(tasks._rows(1, numbers, [Decimal("0.01")] * len(numbers), True))
    assert len(calls) == 2
