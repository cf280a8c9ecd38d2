"""The order free agents are offered a call in, for each callinStrategy (api-catalog §5.1),
with the tie-breaks docs/callcenter.md documents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from voxcast.domain.callin_strategy import Candidate, calls_on, count_day, offer_order

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# keyId: idle since, priority, calls today. Every strategy gives a different order.
AGENTS = [
    Candidate(11, at(20), priority=2, calls_today=5),
    Candidate(12, at(0), priority=3, calls_today=3),
    Candidate(13, at(10), priority=1, calls_today=4),
    Candidate(14, at(30), priority=2, calls_today=1),
]


@pytest.mark.parametrize(
    ("strategy", "last_offered", "expected"),
    [
        (1, None, [12, 13, 11, 14]),  # longest idle: idle since 0, 10, 20, 30
        (2, None, [14, 12, 13, 11]),  # fewest calls: 1, 3, 4, 5
        (3, None, [13, 11, 14, 12]),  # priority: 1, 2 (11 idle longer than 14), 2, 3
        (4, None, [11, 12, 13, 14]),  # round robin, nobody offered yet: keyId order
        (4, 12, [13, 14, 11, 12]),  # ...after 12: the circle goes on from 13
        (4, 14, [11, 12, 13, 14]),  # ...after the highest keyId: back to the lowest
        (4, 99, [11, 12, 13, 14]),  # ...after an agent since removed: the circle still wraps
        (4, 5, [11, 12, 13, 14]),  # ...after a keyId below them all: from the lowest
    ],
)
def test_each_strategy_orders_the_agents(
    strategy: int, last_offered: int | None, expected: list[int]
) -> None:
    assert offer_order(strategy, AGENTS, last_offered=last_offered) == expected


def test_input_order_does_not_matter() -> None:
    for strategy in (1, 2, 3, 4):
        forward = offer_order(strategy, AGENTS, last_offered=12)
        assert offer_order(strategy, list(reversed(AGENTS)), last_offered=12) == forward


def test_fewest_calls_ties_go_to_the_longest_idle_then_the_lower_key_id() -> None:
    agents = [
        Candidate(7, at(5), calls_today=2),
        Candidate(3, at(5), calls_today=2),
        Candidate(5, at(1), calls_today=2),
        Candidate(9, at(9), calls_today=0),
    ]
    assert offer_order(2, agents) == [9, 5, 3, 7]


def test_priority_ties_go_to_the_longest_idle_then_the_lower_key_id() -> None:
    agents = [
        Candidate(8, at(5), priority=1),
        Candidate(2, at(5), priority=1),
        Candidate(4, at(0), priority=1),
        Candidate(1, at(0), priority=4),
    ]
    assert offer_order(3, agents) == [4, 2, 8, 1]


def test_longest_idle_ties_go_to_the_lower_key_id() -> None:
    agents = [Candidate(6, at(3)), Candidate(2, at(3)), Candidate(4, at(3))]
    assert offer_order(1, agents) == [2, 4, 6]


def test_an_unknown_strategy_is_longest_idle() -> None:
    assert offer_order(0, AGENTS) == [12, 13, 11, 14]
    assert offer_order(7, AGENTS) == [12, 13, 11, 14]


def test_no_agent_no_order() -> None:
    assert offer_order(4, [], last_offered=3) == []
    assert offer_order(2, []) == []


def test_calls_today_count_only_on_their_day() -> None:
    assert calls_on(date(2025, 3, 1), date(2025, 3, 1), 6) == 6
    assert calls_on(date(2025, 3, 2), date(2025, 3, 1), 6) == 0
    assert calls_on(date(2025, 3, 1), None, 0) == 0


def test_the_day_turns_at_midnight_utc_plus_8() -> None:
    assert count_day(datetime(2025, 3, 1, 15, 59, 59, tzinfo=UTC)) == date(2025, 3, 1)
    assert count_day(datetime(2025, 3, 1, 16, 0, 0, tzinfo=UTC)) == date(2025, 3, 2)
