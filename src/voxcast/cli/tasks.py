"""`voxcast tasks ...`: watch a task's progress live."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from voxcast.cli.common import DatabaseOpt, open_rt, settings_for
from voxcast.domain.enums import TaskStatus
from voxcast.services.progress import task_progress
from voxcast.storage.models import Task

tasks_app = typer.Typer(help="Follow tasks.", no_args_is_help=True)
console = Console()
FINAL = (TaskStatus.FINISHED, TaskStatus.SUBMIT_FAILED, TaskStatus.CANCELED)


@tasks_app.command("watch")
def watch(
    task_id: Annotated[int, typer.Argument(help="task id (the keyId/taskId of send)")],
    database_url: DatabaseOpt = None,
    interval: Annotated[float, typer.Option(help="seconds between refreshes")] = 0.5,
    once: Annotated[bool, typer.Option(help="print the counters once and exit")] = False,
) -> None:
    """Show a live progress bar with answered / failed / in-progress counters until the task
    is finished or cancelled."""

    async def go() -> int:
        rt = await open_rt(settings_for(database_url))
        try:
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, disable=once) as bar:
                handle = bar.add_task(f"task {task_id}", total=None, detail="")
                while True:
                    async with rt.sessions() as session:
                        task = await session.get(Task, task_id)
                        if task is None:
                            console.print(f"[red]task {task_id} does not exist[/red]")
                            return 2
                        p = await task_progress(session, task_id)
                    status = TaskStatus(task.status)
                    detail = (
                        f"{status.name.lower()}  answered {p.answered}  failed {p.failed}  "
                        f"dialing {p.dialing}  pending {p.pending}"
                        + (f"  ({task.status_reason})" if task.status_reason else "")
                    )
                    bar.update(handle, total=p.total, completed=p.called, detail=detail)
                    if once or status in FINAL:
                        if once:
                            console.print(f"task {task_id}: {p.called}/{p.total} {detail}")
                        return 0
                    await asyncio.sleep(interval)
        finally:
            await rt.close()

    raise typer.Exit(asyncio.run(go()))
