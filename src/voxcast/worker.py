"""Runs the background services of one process: dialer (with its carriers), push sender and
SMS sender; and the node's readiness (database reachable, not draining), which its SIP
registrar answers Kamailio's OPTIONS probes with. `drain` (SIGUSR1 to `voxcast worker`) stops
new work, lets calls in progress end, then stops the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from voxcast.audio import PromptCache, RenderPool
from voxcast.dialer.engine import Dialer, new_worker_id
from voxcast.messaging.sender import SmsSender, choose_transport
from voxcast.ports import Carrier
from voxcast.runtime import Runtime
from voxcast.services import recordings
from voxcast.services.health import NodeReadiness
from voxcast.storage.db import unavailable
from voxcast.telephony.callcenter.agent_registrar import AgentRegistrar, parse_hostport
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.webhooks.sender import PushSender

log = logging.getLogger("voxcast.worker")
#: how often a draining node looks whether its last call ended
DRAIN_POLL_S = 0.2
#: how often recordings past their retention are looked for (docs/recordings.md)
RECORDING_SWEEP_S = 3600.0


async def sweep_recordings(
    rt: Runtime, stop: asyncio.Event, every_s: float = RECORDING_SWEEP_S
) -> None:
    """Delete recordings kept longer than `recording_days`, now and then every `every_s`
    (wall seconds: retention is real time, whatever the sandbox clock's speed)."""
    days = rt.settings.recording_days
    while not stop.is_set():
        try:
            gone = await asyncio.to_thread(recordings.sweep, rt.settings.data_dir, days)
            if gone:
                log.info("deleted %d recording files past %g days", gone, days)
        except OSError as exc:  # a disk error must not end the worker; the next round retries
            log.warning("sweeping recordings failed: %s", exc)
        try:
            async with rt.sessions.begin() as session:
                cutoff = rt.wall.now() - timedelta(days=days)
                gone = await recordings.sweep_stored(session, cutoff)
            if gone:
                log.info("deleted %d stored recordings past %g days", gone, days)
        except Exception as exc:  # the database away: the next round retries
            log.warning("sweeping stored recordings failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


class Background:
    """The dialer, the push sender and the SMS sender sharing one stop signal."""

    def __init__(
        self, rt: Runtime, carrier: Carrier | None = None, *, render_workers: int | None = None
    ) -> None:
        self.rt = rt
        self.stop = asyncio.Event()
        self.worker_id = new_worker_id()
        sandbox = carrier or SandboxCarrier(rt.clock, rt.settings.data_dir)
        self.carriers = CarrierDirectory(rt, sandbox)
        self.pool = RenderPool(PromptCache.under(rt.settings.data_dir), workers=render_workers)
        self.dialer = Dialer(
            rt, self.carriers.carrier_for, pool=self.pool, worker_id=self.worker_id
        )
        self.sender = PushSender(rt, worker_id=self.worker_id)
        self._tasks: list[asyncio.Task[None]] = []
        self.registrar: AgentRegistrar | None = None
        self.sms: SmsSender | None = None
        self.readiness = NodeReadiness(rt.engine)
        self._idle: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.rt.settings.registrar:
            host, port = parse_hostport(self.rt.settings.registrar)
            self.registrar = AgentRegistrar(self.rt, host, port, owner=self.worker_id)
            await self.registrar.start()
            assert self.registrar.endpoint is not None
            self.registrar.endpoint.ready = self.readiness.ready
            self.carriers.agents_endpoint = self.registrar.endpoint
        try:
            await self.carriers.refresh()  # the first calls already go through the right trunk
        except Exception as exc:
            if not unavailable(exc):
                raise
            # gone again since start-up: the carriers loop reads the trunks when it is back
            log.warning("database unavailable while reading trunks; retried by the loop")
        self.sms = SmsSender(self.rt, await choose_transport(self.rt))
        self._tasks = [
            asyncio.create_task(self.carriers.run(self.stop), name="carriers"),
            asyncio.create_task(self.dialer.run(self.stop), name="dialer"),
            asyncio.create_task(self.sender.run(self.stop), name="push-sender"),
            asyncio.create_task(self.sms.run(self.stop), name="sms-sender"),
            asyncio.create_task(self.readiness.watch(self.stop), name="readiness"),
            asyncio.create_task(sweep_recordings(self.rt, self.stop), name="recordings"),
        ]
        log.info("worker %s started (dialer, push sender, SMS sender)", self.worker_id)

    @property
    def busy(self) -> int:
        """Calls in progress here: the dialer's and the registrar's (inbound, agents')."""
        sip = self.registrar.endpoint.calls if self.registrar and self.registrar.endpoint else 0
        return len(self.dialer.stats.in_flight) + sip

    def drain(self) -> None:
        """Take no new work (no claims, OPTIONS and INVITEs answered 503) and stop once the
        calls in progress have ended; a second call changes nothing."""
        if self._idle is not None:
            return
        self.readiness.draining = True
        self.dialer.claiming = False
        log.info("draining: no new calls; stopping once %d in progress end", self.busy)
        self._idle = asyncio.create_task(self._stop_when_idle(), name="drain")

    async def _stop_when_idle(self) -> None:
        while self.busy and not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=DRAIN_POLL_S)
        log.info("drained: no call in progress, stopping")
        self.stop.set()

    async def close(self) -> None:
        self.stop.set()
        if self._idle is not None:
            await self._idle
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.carriers.close()
        if self.registrar is not None:
            await self.registrar.close()
        await self.pool.aclose()
