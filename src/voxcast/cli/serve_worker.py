"""`voxcast serve`'s worker process: the dialer and push sender beside the API, started and
stopped with it, and the socket over which it tells the API that cached API keys went stale."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from voxcast.services.authcache import AuthCache

log = logging.getLogger("voxcast.serve")

#: how long the worker gets to close (calls in progress recorded, pushes flushed) once told to
#: stop, before it is killed
STOP_GRACE_S = 60.0


def link_worker(link: socket.socket, cache: AuthCache, stop: asyncio.Event) -> None:
    """The worker's end: every invalidation of its key cache (its writes to accounts and
    keys, such as each call's charge) is passed on to serve's API, and the worker stops when
    serve's end closes (serve ended, even by SIGKILL)."""
    link.setblocking(False)

    def stale() -> None:
        # a full buffer already holds a byte serve has not read: it clears after this commit
        with contextlib.suppress(BlockingIOError, OSError):
            link.send(b"!")

    def readable() -> None:
        try:
            data = link.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(link.fileno())
            stop.set()

    cache.on_invalidate = stale
    asyncio.get_running_loop().add_reader(link.fileno(), readable)


class WorkerProcess:
    """One `voxcast worker` child: its invalidations clear the API's key cache, and an exit
    that serve did not ask for (a stop, or a drain ending well) calls `on_lost`."""

    def __init__(
        self,
        args: list[str],
        cache: AuthCache,
        on_lost: Callable[[], None],
        *,
        data_dir: Path | None = None,
    ) -> None:
        self.args = args
        #: serve's data directory (`--data-dir`), the worker's too
        self.data_dir = data_dir
        self.cache = cache
        self.on_lost = on_lost
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        #: told to drain (`drain`): its exit once its calls ended is expected, not a loss
        self.draining = False
        self._ours: socket.socket | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "voxcast",
                "worker",
                *self.args,
                "--serve-link",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env=None
                if self.data_dir is None
                else {**os.environ, "VOXCAST_DATA_DIR": str(self.data_dir)},
                # its own process group: Ctrl-C at a terminal reaches serve alone, which then
                # stops the worker, so the worker never ends before serve knows it should
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._ours = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)
        self._watch = asyncio.create_task(self._wait(), name="serve-worker")
        log.info("worker process %d started (dialer, push sender, SMS sender)", self.proc.pid)

    def _readable(self) -> None:
        assert self._ours is not None
        try:
            data = self._ours.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.cache.clear()
        else:
            asyncio.get_running_loop().remove_reader(self._ours.fileno())

    async def _wait(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        # -SIGUSR1: the drain reached the worker before it had set its handler, so before its
        # dialer started: no call was in progress, nothing was lost
        if self.draining and code in (0, -signal.SIGUSR1):
            log.info("worker process %d drained and exited (%s)", self.proc.pid, code)
        elif not self.stopping:
            log.error("worker process %d exited (%s); serve stops", self.proc.pid, code)
            self.on_lost()

    async def drain(self) -> None:
        """Pass an operator's drain (SIGUSR1) on to the worker: it takes no new calls and
        exits once those in progress ended; returns once it has exited. A second call, or one
        after the worker ended, changes nothing but waits the same."""
        if self.proc is None:
            return
        if not self.draining and not self.stopping and self.proc.returncode is None:
            self.draining = True
            log.info("draining worker process %d", self.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGUSR1)
        if self._watch is not None:
            # shielded: cancelling the caller (serve stopped by SIGTERM meanwhile) must not
            # cancel the watch that `stop` still awaits
            await asyncio.shield(self._watch)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_GRACE_S; returns once the worker is reaped."""
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_GRACE_S)
            except TimeoutError:
                log.warning("worker process %d did not stop in time; killed", self.proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        if self._watch is not None:
            await self._watch
        if self._ours is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._ours.fileno())
            self._ours.close()
            self._ours = None


def worker_args(
    database_url: str | None, speed: float, epoch: float | None, log_level: str
) -> list[str]:
    """The `voxcast worker` options that make it work on serve's database and clock."""
    args = ["--sandbox-speed", repr(speed), "--log-level", log_level]
    if database_url:
        args += ["--database-url", database_url]
    if epoch is not None:
        args += ["--sandbox-epoch", repr(epoch)]
    return args
