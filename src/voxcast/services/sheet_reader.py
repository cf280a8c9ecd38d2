"""Parses uploaded callee sheets in a child process under a time and a memory limit, so a
hostile spreadsheet can neither block the event loop nor exhaust the server's memory.

The child is `python -m voxcast.services.sheet_reader`: the file on stdin, the result as JSON
on stdout. It caps its own address space (RLIMIT_AS) and CPU time before reading anything;
the parent kills it when the wall-clock limit runs out.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxcast.domain.callee_sheet import (
    FORMAT_WRONG,
    CalleeRow,
    RowError,
    SheetError,
    SheetResult,
    parse_callee_sheet,
)

#: sheets parsed at once per process; more uploads wait their turn
PARALLEL = 2
#: the most text a list may keep (numbers, called information and row errors, as JSON)
MAX_LIST_BYTES = 64 * 2**20
_MEMORY_EXIT = 3
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Limits:
    max_rows: int
    seconds: float
    memory_bytes: int


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(PARALLEL)
    return gate


def _child_env() -> dict[str, str]:
    # the child imports this package from where the parent found it, installed or not
    root = str(Path(__file__).resolve().parents[2])
    # nothing of voxcast's configuration (the secret key, the database URL) goes to the process
    # that reads untrusted files
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXCAST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # numpy (imported by openpyxl) would reserve address space for a thread pool per core
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


async def read_sheet(data: bytes, file_name: str, limits: Limits) -> SheetResult:
    """Parse in a child process; SheetError (-39 naming the limit) when it needs more time or
    memory than allowed, as for any other file refused whole."""
    async with _gate():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voxcast.services.sheet_reader",
            file_name,
            str(limits.max_rows),
            str(limits.memory_bytes),
            str(max(1, int(limits.seconds) + 1)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_child_env(),
        )
        try:
            async with asyncio.timeout(limits.seconds):
                out, _ = await proc.communicate(data)
        except TimeoutError:
            raise SheetError(
                FORMAT_WRONG,
                f"file: not read within {limits.seconds:g} s (the limit for one spreadsheet)",
            ) from None
        finally:
            # also when the request is cancelled: no child outlives its upload
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    if proc.returncode == _MEMORY_EXIT or (proc.returncode != 0 and not out):
        raise SheetError(
            FORMAT_WRONG,
            f"file: reading it needs more than {limits.memory_bytes // 2**20} MB of memory "
            "(the limit for one spreadsheet)",
        )
    try:
        answer = json.loads(out)
    except ValueError:
        raise SheetError(FORMAT_WRONG, "file: the spreadsheet reader failed") from None
    if "error" in answer:
        raise SheetError(*answer["error"])
    return _result(answer["result"])


def _result(r: dict[str, Any]) -> SheetResult:
    return SheetResult(
        numbers=[CalleeRow(row, number, info) for row, number, info in r["numbers"]],
        errors=[RowError(*e) for e in r["errors"]],
        duplicates=r["duplicates"],
        blank_rows=r["blank_rows"],
        headers=r["headers"],
        number_column=r["number_column"],
        sheet_name=r["sheet_name"],
    )


def _answer(sheet: SheetResult) -> dict[str, Any]:
    return {
        "numbers": [[n.row, n.number, n.info] for n in sheet.numbers],
        "errors": [[e.row, e.column, e.reason] for e in sheet.errors],
        "duplicates": sheet.duplicates,
        "blank_rows": sheet.blank_rows,
        "headers": sheet.headers,
        "number_column": sheet.number_column,
        "sheet_name": sheet.sheet_name,
    }


def _child(argv: list[str]) -> int:
    import resource

    file_name, max_rows, memory, cpu = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    # the readers are imported first, so the limit is spent on the file and an import never
    # fails half-way (openpyxl pulls in numpy when it is installed)
    import openpyxl  # type: ignore[import-untyped]  # noqa: F401
    import xlrd  # type: ignore[import-untyped]  # noqa: F401

    # before the file is read: nothing in it can get past these
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        data = sys.stdin.buffer.read()
        try:
            answer: dict[str, Any] = {
                "result": _answer(parse_callee_sheet(data, file_name, max_rows=max_rows))
            }
        except SheetError as err:
            if isinstance(err.__cause__, MemoryError):
                return _MEMORY_EXIT
            answer = {"error": [err.code, err.reason]}
        del data
        encoded = json.dumps(answer, ensure_ascii=False).encode()
        if len(encoded) > MAX_LIST_BYTES:
            # each cell is short, but together they would still be stored with the list
            encoded = json.dumps(
                {
                    "error": [
                        FORMAT_WRONG,
                        f"file: the list holds more than {MAX_LIST_BYTES // 2**20} MB of text",
                    ]
                }
            ).encode()
        sys.stdout.buffer.write(encoded)
        sys.stdout.buffer.flush()
    except MemoryError:
        return _MEMORY_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
