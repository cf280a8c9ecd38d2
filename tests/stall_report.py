"""A pytest plugin that tells how often each test process stalled (did not run for 300 ms or
more), in which test, and how much of it the garbage collector took: timing tests fail after
stalls, and this says whether the cause was the machine or our own process."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: a wake-up this much later than asked is a stall worth naming
STALL_S = 0.3
TICK_S = 0.05
OUT = Path(__file__).resolve().parent.parent / "var" / "test-stalls"


@dataclass
class _Watch:
    test: str = "(collection)"
    gc_started: float | None = None
    gc_spans: list[tuple[float, float]] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self.gc_started = now
        elif self.gc_started is not None:
            with self.lock:
                self.gc_spans.append((self.gc_started, now))
                del self.gc_spans[:-200]
            self.gc_started = None

    def gc_within(self, start: float, end: float) -> float:
        with self.lock:
            return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.gc_spans)

    def run(self) -> None:
        while True:
            before = time.monotonic()
            time.sleep(TICK_S)
            after = time.monotonic()
            late = after - before - TICK_S
            if late >= STALL_S:
                self.stalls.append(f"{late:.2f}\t{self.gc_within(before, after):.2f}\t{self.test}")


_watch = _Watch()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller, before its workers start
        for old in OUT.glob("*") if OUT.exists() else ():
            old.unlink()
    gc.callbacks.append(_watch.on_gc)
    threading.Thread(target=_watch.run, name="stall-watch", daemon=True).start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _watch.test = item.nodeid
    yield


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _watch.stalls:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / _worker()).write_text("\n".join(_watch.stalls) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        (float(late), float(in_gc), test, path.name)
        for path in (OUT.glob("*") if OUT.exists() else ())
        for late, in_gc, test in (row.split("\t", 2) for row in path.read_text().splitlines())
    ]
    if not lines:
        return
    lines.sort(reverse=True)
    total_gc = sum(g for _, g, _, _ in lines)
    terminalreporter.write_sep("-", "test process stalls")
    terminalreporter.write_line(
        f"{len(lines)} stalls of {STALL_S * 1000:.0f} ms or more, the longest "
        f"{lines[0][0]:.2f} s; the garbage collector's part {total_gc:.2f} s "
        f"of {sum(s for s, _, _, _ in lines):.2f} s"
    )
    for late, in_gc, test, worker in lines[:8]:
        terminalreporter.write_line(f"  {late:5.2f} s (gc {in_gc:.2f} s) {worker} {test}")
