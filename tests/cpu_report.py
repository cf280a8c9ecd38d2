"""An opt-in pytest plugin: with VOXCAST_TEST_CPU_REPORT=<path> each test's CPU time (this
process, and the child processes it reaped) and wall time go to <path>.<worker>, one
tab-separated line per test, so the suite's cost can be read apart from the machine's load."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator

import pytest

REPORT = os.environ.get("VOXCAST_TEST_CPU_REPORT", "")


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not REPORT:
        yield
        return
    own0, children0 = _cpu()
    wall0 = time.monotonic()
    yield
    own1, children1 = _cpu()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(f"{REPORT}.{worker}", "a", encoding="utf-8") as out:
        out.write(
            f"{item.nodeid}\t{own1 - own0:.2f}\t{children1 - children0:.2f}"
            f"\t{time.monotonic() - wall0:.2f}\n"
        )
