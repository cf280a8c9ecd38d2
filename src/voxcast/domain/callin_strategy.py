"""Which free agent of a group is offered a call first: the group's `callinStrategy`
(api-catalog §5.1), one pure ordering shared by outbound transfers and inbound calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import IntEnum


class CallinStrategy(IntEnum):
    LONGEST_IDLE = 1
    FEWEST_CALLS = 2  # the vendor's "fewest accesses"
    PRIORITY = 3
    ROUND_ROBIN = 4


#: the day "calls today" counts in: the vendor's zone (UTC+8), the one its records show
COUNT_ZONE = timezone(timedelta(hours=8))


def count_day(at: datetime) -> date:
    return at.astimezone(COUNT_ZONE).date()


@dataclass(frozen=True)
class Candidate:
    """A free agent as the strategies see it."""

    agent_id: int
    #: when its status last changed (for a free agent: since when it has been free)
    idle_since: datetime
    #: Agent.priority: the lower number is offered first (1, the default, is the highest)
    priority: int = 1
    #: calls it took (answered) today, see `calls_on`
    calls_today: int = 0


def calls_on(day: date, counted_day: date | None, counted: int) -> int:
    """An agent's calls of `day`, from its stored count and the day that count belongs to."""
    return counted if counted_day == day else 0


def offer_order(
    strategy: int, candidates: Iterable[Candidate], *, last_offered: int | None = None
) -> list[int]:
    """The agent ids in the order they are offered the call.

    1 longest idle: earliest `idle_since` first.
    2 fewest calls: fewest `calls_today` first, then longest idle.
    3 priority: lowest `priority` number first, then longest idle.
    4 round robin: the agents in keyId order as a circle, starting after `last_offered` (the
      agent the group last offered a call to; from the lowest keyId when there is none).
    Any remaining tie goes to the lower keyId, so the order is always fully determined. An
    unknown strategy is treated as 1.
    """
    pool = list(candidates)
    if strategy == CallinStrategy.ROUND_ROBIN:
        ids = sorted(c.agent_id for c in pool)
        if last_offered is None:
            return ids
        return [i for i in ids if i > last_offered] + [i for i in ids if i <= last_offered]
    if strategy == CallinStrategy.FEWEST_CALLS:
        pool.sort(key=lambda c: (c.calls_today, c.idle_since, c.agent_id))
    elif strategy == CallinStrategy.PRIORITY:
        pool.sort(key=lambda c: (c.priority, c.idle_since, c.agent_id))
    else:
        pool.sort(key=lambda c: (c.idle_since, c.agent_id))
    return [c.agent_id for c in pool]
