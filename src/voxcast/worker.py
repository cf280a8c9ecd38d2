"""Runs the background services of one process: dialer (with its carriers), push sender and
SMS sink."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from voxcast.audio import PromptCache, RenderPool
from voxcast.dialer.engine import Dialer, new_worker_id
from voxcast.ports import Carrier
from voxcast.runtime import Runtime
from voxcast.services import sms
from voxcast.storage.db import Outage
from voxcast.telephony.directory import CarrierDirectory
from voxcast.telephony.registrar import RegistrarService, parse_hostport
from voxcast.telephony.sandbox import SandboxCarrier
from voxcast.webhooks.sender import PushSender

log = logging.getLogger("voxcast.worker")


class Background:
    """The dialer, the push sender and the SMS sink sharing one stop signal."""

    def __init__(
        self, rt: Runtime, carrier: Carrier | None = None, *, render_workers: int | None = None
    ) -> None:
        self.rt = rt
        self.stop = asyncio.Event()
        self.worker_id = new_worker_id()
        self.carriers = CarrierDirectory(rt, carrier or SandboxCarrier(rt.clock))
        self.pool = RenderPool(PromptCache.under(rt.settings.data_dir), workers=render_workers)
        self.dialer = Dialer(
            rt, self.carriers.carrier_for, pool=self.pool, worker_id=self.worker_id
        )
        self.sender = PushSender(rt, worker_id=self.worker_id)
        self._tasks: list[asyncio.Task[None]] = []
        self.registrar: RegistrarService | None = None

    async def start(self) -> None:
        if self.rt.settings.registrar:
            host, port = parse_hostport(self.rt.settings.registrar)
            self.registrar = RegistrarService(self.rt, host, port)
            await self.registrar.start()
            self.carriers.agents_endpoint = self.registrar.endpoint
        await self.carriers.refresh()  # the first calls already go through the right trunk
        self._tasks = [
            asyncio.create_task(self.carriers.run(self.stop), name="carriers"),
            asyncio.create_task(self.dialer.run(self.stop), name="dialer"),
            asyncio.create_task(self.sender.run(self.stop), name="push-sender"),
            asyncio.create_task(self._sms_loop(), name="sms-sink"),
        ]
        log.info("worker %s started (dialer, push sender, SMS sink)", self.worker_id)

    async def _sms_loop(self) -> None:
        outage = Outage(log, "SMS wait until it is back")
        while not self.stop.is_set():
            try:
                async with self.rt.sessions.begin() as session:
                    await sms.deliver_due(session, self.rt.clock.now())
                outage.ok()
            except Exception as exc:
                outage.failed(exc, "SMS sink pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=self.dialer.tick_seconds * 5)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.carriers.close()
        if self.registrar is not None:
            await self.registrar.close()
        await self.pool.aclose()
