"""`voxcast records TASK_ID`: a task's call records as a table, or as CSV with the columns of the
vendor's record query; both written a page at a time as they are read, never all in memory."""

from __future__ import annotations

import asyncio
import csv
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voxcast.cli.common import DatabaseOpt, fail, open_rt, settings_for
from voxcast.domain.codes import ApiError

if TYPE_CHECKING:
    from collections.abc import Sequence

#: the table's columns (the CSV has them all): (field, heading, width)
TABLE = (
    ("voiceId", "voiceId", 34),
    ("callee", "callee", 16),
    ("sipCode", "sip", 4),
    ("terminationReason", "reason", 12),
    ("feedbackValue", "key", 4),
    ("callDuration", "talk", 5),
    ("cost", "cost", 10),
    ("answerTime", "answered at", 25),
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _table_line(values: Sequence[str]) -> str:
    return "  ".join(v.ljust(width) for v, (_, _, width) in zip(values, TABLE, strict=True))


def records(
    task_id: Annotated[int, typer.Argument(help="task id (the keyId/taskId of send)")],
    as_csv: Annotated[
        bool,
        typer.Option("--csv", help="CSV with every field of the vendor's record query"),
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """A task's call records, newest first: a table, or CSV with `--csv`."""
    from voxcast.services.records import QUERY_COLUMNS, stream_task_records

    out = sys.stdout

    async def go() -> int:
        rt = await open_rt(settings_for(database_url))
        shown = 0
        try:
            writer = csv.DictWriter(out, QUERY_COLUMNS, extrasaction="ignore", lineterminator="\n")
            async for page in stream_task_records(rt.readonly, task_id):
                if shown == 0:
                    if as_csv:
                        writer.writeheader()
                    else:
                        out.write(_table_line([h for _, h, _ in TABLE]).rstrip() + "\n")
                if as_csv:
                    writer.writerows(page)
                else:
                    out.writelines(
                        _table_line([_cell(r.get(f)) for f, _, _ in TABLE]).rstrip() + "\n"
                        for r in page
                    )
                out.flush()
                shown += len(page)
        finally:
            await rt.close()
        if shown == 0:
            if as_csv:
                writer.writeheader()
            else:
                typer.echo(f"task {task_id} has no call records yet", err=True)
        return shown

    try:
        asyncio.run(go())
    except ApiError as err:
        raise fail(err.detail or err.reason) from None
