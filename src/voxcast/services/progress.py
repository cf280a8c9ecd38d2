"""Live counters of a task, computed from its callees: what `tasks watch` and detail show."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxcast.domain.enums import CalleeState
from voxcast.storage.models import Callee


@dataclass(frozen=True)
class Progress:
    total: int
    pending: int
    dialing: int
    called: int
    answered: int

    @property
    def failed(self) -> int:
        return self.called - self.answered

    @property
    def percent(self) -> float:
        return 100.0 * self.called / self.total if self.total else 100.0


async def task_progress(session: AsyncSession, task_id: int) -> Progress:
    """One aggregate query over the task's callees."""
    done = Callee.state == CalleeState.DONE
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((Callee.state == CalleeState.PENDING, 1), else_=0)),
                func.sum(case((Callee.state == CalleeState.DIALING, 1), else_=0)),
                func.sum(case((done, 1), else_=0)),
                func.sum(case((done & Callee.success.is_(True), 1), else_=0)),
            ).where(Callee.task_id == task_id)
        )
    ).one()
    total, pending, dialing, called, answered = (int(v or 0) for v in row)
    return Progress(total, pending, dialing, called, answered)
