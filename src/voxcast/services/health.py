"""Readiness checks for load balancers and the figures `/metrics` reads from the database:
is the database reachable (and how fast), how many pushes wait in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voxcast.storage.models import Push

log = logging.getLogger("voxcast.health")

#: seconds the readiness probe waits for the database before calling it unreachable
PROBE_TIMEOUT_S = 2.0
#: the outbox state of a push still to be delivered (webhooks.sender.PENDING)
PUSH_PENDING = 0

#: the carriers' problems, `{trunk name: what is wrong}`; empty when every one is up
CarrierCheck = Callable[[], dict[str, str]]


@dataclass
class Readiness:
    """What /readyz answers: ready only when nothing failed."""

    database_ms: float | None = None
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.failed

    def body(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "databaseMs": None if self.database_ms is None else round(self.database_ms, 1),
            "failed": self.failed,
        }


async def probe_database(engine: AsyncEngine) -> float:
    """Milliseconds a `SELECT 1` took; raises when the database does not answer within
    `PROBE_TIMEOUT_S`."""
    started = time.perf_counter()
    async with asyncio.timeout(PROBE_TIMEOUT_S), engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return (time.perf_counter() - started) * 1000


async def readiness(engine: AsyncEngine, carriers: CarrierCheck | None) -> Readiness:
    """The database within `PROBE_TIMEOUT_S`, and every carrier up (the sandbox always is)."""
    out = Readiness()
    try:
        out.database_ms = await probe_database(engine)
    except TimeoutError:
        out.failed["database"] = f"no answer within {PROBE_TIMEOUT_S:g} s"
    except Exception as exc:
        # whatever stops the probe (refused, authentication, DNS) is the reason to report,
        # in the driver's words rather than SQLAlchemy's wrapping of them
        cause = getattr(exc, "orig", None) or exc
        out.failed["database"] = (str(cause) or type(cause).__name__).splitlines()[0][:200]
    if carriers is not None:
        out.failed.update({f"trunk {name}": why for name, why in carriers().items()})
    return out


async def push_backlog(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Pushes not yet delivered nor given up, in the whole outbox."""
    async with asyncio.timeout(PROBE_TIMEOUT_S), sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Push).where(Push.state == PUSH_PENDING)
        )
    return int(count or 0)


class NodeReadiness:
    """Whether this node takes new work: not while it is draining (an operator's SIGUSR1) nor
    while its database does not answer. The one owner of "ready" for a worker: its SIP
    endpoint answers OPTIONS (Kamailio's dispatcher probes) 503 and new INVITEs 503 when not,
    and its /readyz says why."""

    def __init__(self, engine: AsyncEngine, interval: float = 1.0) -> None:
        self._engine = engine
        self.interval = interval
        self.draining = False
        #: why the last database probe failed; None when it answered
        self.database_error: str | None = None

    def reason(self) -> str | None:
        """Why the node is not ready, or None when it is."""
        if self.draining:
            return "draining"
        if self.database_error is not None:
            return f"database: {self.database_error}"
        return None

    def ready(self) -> bool:
        return self.reason() is None

    async def watch(self, stop: asyncio.Event) -> None:
        """Probe the database every `interval` seconds until `stop` (each probe bounded by
        `PROBE_TIMEOUT_S`, so a link that drops packets is noticed as one that refuses)."""
        while not stop.is_set():
            found = await readiness(self._engine, None)
            was = self.database_error
            self.database_error = found.failed.get("database")
            if was is None and self.database_error is not None:
                log.warning("database unreachable (%s): not ready", self.database_error)
            elif was is not None and self.database_error is None:
                log.info("database reachable again: ready")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
