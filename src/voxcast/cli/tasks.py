"""`voxcast tasks ...`: an account's tasks, one task's settings and counts, its progress live."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from voxcast.cli.common import (
    DatabaseOpt,
    columns,
    fail,
    open_rt,
    settings_for,
    with_runtime,
)
from voxcast.domain.codes import ApiError
from voxcast.domain.enums import TaskKind, TaskStatus

if TYPE_CHECKING:
    from voxcast.runtime import Runtime
    from voxcast.services.tasks import TaskSummary

tasks_app = typer.Typer(help="List, show and follow tasks.", no_args_is_help=True)
console = Console()
FINAL = (TaskStatus.FINISHED, TaskStatus.SUBMIT_FAILED, TaskStatus.CANCELED)


def _name(enum: type[TaskKind] | type[TaskStatus], value: int) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return str(value)


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"  # type: ignore[attr-defined]


def _summary_json(s: TaskSummary) -> dict[str, object]:
    t, c = s.task, s.counts
    return {
        "taskId": t.id,
        "kind": _name(TaskKind, t.kind),
        "name": t.task_name,
        "status": _name(TaskStatus, t.status),
        "numbers": c.total,
        "called": c.called,
        "answered": c.answered,
        "failed": c.failed,
        "dialing": c.dialing,
        "pending": c.pending,
        "created": _when(t.created_at),
    }


@tasks_app.command("list")
def list_tasks(
    account_id: Annotated[int, typer.Option(help="the account whose tasks to list")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """The account's tasks, newest first: id, kind, name, status and progress counts."""
    from voxcast.services import tasks

    async def go(rt: Runtime) -> tuple[list[TaskSummary], int]:
        async with rt.readonly() as session:
            return await tasks.account_tasks(session, account_id, size=limit)

    try:
        rows, total = with_runtime(database_url, go)
    except ApiError as err:
        raise fail(err.detail or err.reason) from None
    if as_json:
        for row in rows:
            typer.echo(json.dumps(_summary_json(row), ensure_ascii=False))
        return
    typer.echo(f"account {account_id}: {len(rows)} of {total} task(s), newest first")
    headings = ("taskId", "kind", "status", "numbers", "called", "answered", "failed", "name")
    cells = [
        ["" if j[k] is None else str(j[k]) for k in headings] for j in map(_summary_json, rows)
    ]
    for line in columns(headings, cells):
        typer.echo(line)


@tasks_app.command("show")
def show(
    task_id: Annotated[int, typer.Argument(help="task id (the keyId/taskId of send)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """One task: who owns it, its settings, status and counts."""
    from voxcast.services import tasks

    async def go(rt: Runtime) -> TaskSummary:
        async with rt.readonly() as session:
            return await tasks.task_summary(session, task_id)

    try:
        summary = with_runtime(database_url, go)
    except ApiError as err:
        raise fail(err.detail or err.reason) from None
    t = summary.task
    out = _summary_json(summary)
    out.update(
        {
            "accountId": t.account_id,
            "appId": t.app_id,
            "statusReason": t.status_reason,
            "sendTime": _when(t.send_time),
            "started": _when(t.started_at),
            "finished": _when(t.finished_at),
            "settings": {
                "displayNum": t.display_num,
                "lan": t.lan,
                "text": t.text,
                "voiceFileId": t.voice_file_id,
                "scriptId": t.script_id,
                "loopCount": t.loop_count,
                "maxCalls": t.max_calls,
                "maxRingingTime": t.max_ringing_time,
                "parentTaskId": t.parent_task_id,
                "dncSkipped": t.dnc_skipped,
                **t.params,
            },
        }
    )
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, default=str))
        return
    settings = out.pop("settings")
    assert isinstance(settings, dict)
    width = max(len(k) for k in (*out, *(f"  {k}" for k in settings)))
    for key, value in out.items():
        typer.echo(f"{key:<{width}}  {value if value not in (None, '') else '-'}")
    typer.echo("settings")
    for key, value in settings.items():
        if value in (None, "", [], {}):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        typer.echo(f"{'  ' + key:<{width}}  {shown}")


@tasks_app.command("watch")
def watch(
    task_id: Annotated[int, typer.Argument(help="task id (the keyId/taskId of send)")],
    database_url: DatabaseOpt = None,
    interval: Annotated[float, typer.Option(help="seconds between refreshes")] = 0.5,
    once: Annotated[bool, typer.Option(help="print the counters once and exit")] = False,
) -> None:
    """Show a live progress bar with answered / failed / in-progress counters until the task
    is finished or cancelled."""
    from voxcast.services.progress import task_progress
    from voxcast.storage.models import Task

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
