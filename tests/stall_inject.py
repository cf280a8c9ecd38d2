"""An opt-in pytest plugin: with VOXCAST_TEST_STALL=<seconds> every async test's event loop is
blocked once for that long, at a moment drawn from its test id (and VOXCAST_TEST_STALL_SEED)
within its first VOXCAST_TEST_STALL_WITHIN seconds (default 6). CI machines stall test
processes for seconds; this does it on purpose, on a quiet machine, to find the tests such a
stall breaks."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

STALL_S = float(os.environ.get("VOXCAST_TEST_STALL", "") or 0)
WITHIN_S = float(os.environ.get("VOXCAST_TEST_STALL_WITHIN", "") or 6)
SEED = os.environ.get("VOXCAST_TEST_STALL_SEED", "")


def _stalled(test: Callable[..., Awaitable[Any]], at: float) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        # the loop's own thread sleeps: nothing of this process's asyncio runs meanwhile
        stall = asyncio.get_running_loop().call_later(at, time.sleep, STALL_S)
        try:
            return await test(*args, **kwargs)
        finally:
            stall.cancel()

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    test = getattr(item, "obj", None)
    if (
        not STALL_S
        or not isinstance(item, pytest.Function)
        or not inspect.iscoroutinefunction(test)
    ):
        yield
        return
    at = random.Random(SEED + item.nodeid).uniform(0.2, WITHIN_S)  # the same moment on every run
    item.obj = _stalled(test, at)
    try:
        yield
    finally:
        item.obj = test
