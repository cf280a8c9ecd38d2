"""Every Prometheus metric of a voxcast process, and the one-line functions the code that counts
calls; `/metrics` (docs/deployment.md#metrics) renders them. Imports nothing of voxcast."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

CONTENT_TYPE = CONTENT_TYPE_LATEST

CALLS_IN_PROGRESS = Gauge(
    "voxcast_calls_in_progress", "Calls this process's dialer is running (dialing to hang-up)."
)
CALL_SETUPS = Counter(
    "voxcast_call_setups", "Calls this process's dialer started (rate() gives set-ups a second)."
)
CALL_OUTCOMES = Counter(
    "voxcast_call_outcomes", "Calls ended, by result (see docs/deployment.md).", ["result"]
)
PACER_LATENESS = Histogram(
    "voxcast_rtp_pacer_lateness_seconds",
    "How late the shared 20 ms RTP pacer sent each frame slot (pacing jitter).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5),
)
PACER_SKIPPED = Counter(
    "voxcast_rtp_pacer_skipped_frames",
    "20 ms frame slots the pacer skipped, more than 0.5 s behind; each active call lost them.",
)
SIP_RESENT = Counter(
    "voxcast_sip_retransmissions",
    "SIP messages this process sent again, by method ('response' for responses): requests on "
    "Timers A/E, responses and ACKs for a peer's retransmissions. A steady rate means answers "
    "arrive (or are read) later than T1, 500 ms.",
    ["message"],
)
PUSH_BACKLOG = Gauge(
    "voxcast_push_backlog",
    "Pushes waiting in the outbox (whole database, refreshed when /metrics is read).",
)
PUSHES_DELIVERED = Counter("voxcast_pushes_delivered", "Pushes this process delivered (2xx).")
PUSH_FAILURES = Counter(
    "voxcast_push_failures", "Push attempts of this process that failed (retried or dead)."
)
DB_QUERY = Histogram(
    "voxcast_db_query_seconds",
    "Round trip of each SQL statement this process sent to the database.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
TICKS = Counter(
    "voxcast_dialer_ticks",
    "Passes of this process's dialer loop (each runs the scheduler and claims; bench/cluster.py "
    "divides the statements sent by it).",
)
CLAIM = Histogram(
    "voxcast_claim_seconds",
    "How long each claim transaction of this process's dialer took (the account's lock, its "
    "capacity, the SKIP LOCKED claim, commit): the wait that grows as nodes share accounts.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

#: the `result` label of voxcast_call_outcomes_total for a final SIP code
RESULTS: dict[int, str] = {
    480: "no_answer",
    408: "no_answer",
    487: "no_answer",
    486: "busy",
    600: "busy",
    603: "rejected",
    404: "not_found",
    410: "not_found",
    484: "not_found",
    500: "error",
}
#: every value the label takes, exported at 0 from the start so rate() sees the first one
RESULT_LABELS = (
    "answered",
    "no_answer",
    "busy",
    "rejected",
    "not_found",
    "error",
    "lost",
    "failed",
)
for _label in RESULT_LABELS:
    CALL_OUTCOMES.labels(_label)

_STARTED_KEY = "voxcast_metrics_started"


def render() -> bytes:
    """The text exposition of every metric of this process."""
    return generate_latest()


def result_of(sip_code: int, answered: bool) -> str:
    """The outcome label of a call: answered, or why not (any other code is `failed`)."""
    if answered:
        return "answered"
    return RESULTS.get(sip_code, "failed")


def call_started(task: asyncio.Task[Any]) -> None:
    """A call set-up; it stays in progress until its task is done."""
    CALL_SETUPS.inc()
    CALLS_IN_PROGRESS.inc()
    task.add_done_callback(_call_done)


def _call_done(_task: asyncio.Task[Any]) -> None:
    CALLS_IN_PROGRESS.dec()


def call_ended(sip_code: int, answered: bool) -> None:
    CALL_OUTCOMES.labels(result_of(sip_code, answered)).inc()


def calls_lost(count: int) -> None:
    """Calls of dead workers this process recorded as lost."""
    CALL_OUTCOMES.labels("lost").inc(count)


def ticked() -> None:
    TICKS.inc()


def claimed(seconds: float) -> None:
    CLAIM.observe(seconds)


def pacer_late(seconds: float) -> None:
    PACER_LATENESS.observe(seconds)


def sip_resent(message: str) -> None:
    SIP_RESENT.labels(message).inc()


def pacer_skipped(frames: int) -> None:
    PACER_SKIPPED.inc(frames)


def push_delivered() -> None:
    PUSHES_DELIVERED.inc()


def push_failed() -> None:
    PUSH_FAILURES.inc()


def push_backlog(count: int) -> None:
    PUSH_BACKLOG.set(count)


def watch_engine(engine: AsyncEngine) -> None:
    """Time every statement `engine` sends (voxcast_db_query_seconds)."""
    sync = engine.sync_engine

    @event.listens_for(sync, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _sql: Any, _params: Any, _ctx: Any, _many: Any) -> None:
        # one statement at a time runs on a connection, so one start time per connection
        conn.info[_STARTED_KEY] = time.perf_counter()

    @event.listens_for(sync, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, _sql: Any, _params: Any, _ctx: Any, _many: Any) -> None:
        started = conn.info.pop(_STARTED_KEY, None)
        if started is not None:
            DB_QUERY.observe(time.perf_counter() - started)
