"""Which carrier each account's calls go through: the SIP carrier of its trunk, else the
sandbox. Trunks are re-read from the database every few seconds, so `voxcast admin trunk`
changes reach running workers without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from sqlalchemy import select

from voxcast.audio import PromptCache
from voxcast.audio.playback import PromptAudio
from voxcast.config import Settings
from voxcast.ports import Carrier
from voxcast.runtime import Runtime
from voxcast.services import trunks
from voxcast.storage.db import Outage
from voxcast.storage.models import VoiceFile
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.rtp.workers import MediaWorkers
from voxcast.telephony.sip.aio.carrier import SipCarrier, TrunkConfig, local_address_towards
from voxcast.telephony.sip.aio.dns import ResolveError, Resolver
from voxcast.telephony.sip.aio.transport import SipEndpoint
from voxcast.telephony.sip.core.locate import parse_servers

log = logging.getLogger("voxcast.carriers")


def resolver_for(settings: Settings) -> Resolver:
    """The trunks' DNS: VOXCAST_DNS_SERVERS when set, else the system's."""
    return Resolver(parse_servers(settings.dns_servers) or None)


async def bind_host_towards(resolver: Resolver, config: TrunkConfig) -> str:
    """Our address on the route to the trunk's first target, found without blocking the
    loop on DNS; a host that does not resolve gets the wildcard (its calls fail with 503,
    not the worker)."""
    try:
        found = await resolver.resolve(config.host, config.port, (config.transport,))
    except ResolveError as err:
        log.warning("trunk %s: %s", config.name, err)
        return "0.0.0.0"
    return local_address_towards(found[0].address, found[0].port)


def prompt_audio(rt: Runtime) -> PromptAudio:
    """Prompt audio for the SIP carriers: rendered speech from the cache, uploads from the
    database."""

    async def load_file(file_id: str) -> bytes | None:
        async with rt.sessions() as session:
            found = await session.execute(select(VoiceFile.pcm).where(VoiceFile.file_id == file_id))
            return found.scalar()

    return PromptAudio(PromptCache.under(rt.settings.data_dir), load_file)


class CarrierDirectory:
    """`carrier_for(account_id)` for the dialer; `run()` keeps the routing fresh."""

    def __init__(self, rt: Runtime, sandbox: Carrier) -> None:
        self.rt = rt
        self.sandbox = sandbox
        self.prompts = prompt_audio(rt)
        self._routes: dict[int, str] = {}
        self._carriers: dict[str, SipCarrier] = {}
        self._retired: list[SipCarrier] = []
        self._media: dict[str, MediaEngine] = {}
        self.resolver = resolver_for(rt.settings)
        #: the registrar's socket, when this process runs one: agents are rung on the flow
        #: they registered through, which is the only one their NAT lets in
        self.agents_endpoint: SipEndpoint | None = None

    def carrier_for(self, account_id: int) -> Carrier:
        name = self._routes.get(account_id)
        if name is None:
            return self.sandbox
        return self._carriers.get(name) or self.sandbox

    def down(self) -> dict[str, str]:
        """Trunks that keep a registration and lost it (/readyz): the last REGISTER failed
        and none succeeded since. Trunks without one, or not yet in use, and the sandbox are up."""
        out: dict[str, str] = {}
        for name, carrier in self._carriers.items():
            reg = carrier.registration
            if reg is not None and reg.last_failure is not None and not carrier.registered:
                code, reason = reg.last_failure
                out[name] = f"not registered ({code} {reason})"
        return out

    def registrations(self) -> dict[str, str]:
        """Each trunk of this process that keeps a registration, and its state: "registered",
        "not registered (code reason)" after a failure, else "registering"."""
        out: dict[str, str] = {}
        for name, carrier in self._carriers.items():
            reg = carrier.registration
            if reg is None:
                continue
            if carrier.registered:
                out[name] = "registered"
            elif reg.last_failure is not None:
                code, reason = reg.last_failure
                out[name] = f"not registered ({code} {reason})"
            else:
                out[name] = "registering"
        return out

    async def refresh(self) -> None:
        async with self.rt.sessions() as session:
            routes, configs = await trunks.routing(session, self.rt.secrets)
        for name, config in configs.items():
            current = self._carriers.get(name)
            if current is not None and current.trunk == config:
                continue
            if current is not None:
                self._retired.append(current)  # its calls in progress finish on it
            self._carriers[name] = await self._carrier(config)
            where = config.host if config.port is None else f"{config.host}:{config.port}"
            log.info("trunk %s: %s over %s", name, where, config.transport)
        for name in set(self._carriers) - set(configs):
            self._retired.append(self._carriers.pop(name))
        missing = {n for n in routes.values() if n not in configs}
        if missing:
            log.warning("accounts use unknown trunks %s; their calls use the sandbox", missing)
        self._routes = routes
        await self._close_idle_retired()

    async def _close_idle_retired(self) -> None:
        """A replaced or removed trunk keeps its socket (and REGISTER refreshes) only until
        its last call is over."""
        idle = [carrier for carrier in self._retired if carrier.in_progress == 0]
        self._retired = [carrier for carrier in self._retired if carrier.in_progress > 0]
        for carrier in idle:
            try:
                await carrier.close()
            except Exception:
                log.exception("closing retired trunk %s failed", carrier.trunk.name)

    async def _carrier(self, config: TrunkConfig) -> SipCarrier:
        settings = self.rt.settings
        host = settings.sip_bind_host or await bind_host_towards(self.resolver, config)
        media = self._media.get(host)
        if media is None:
            media = self._media[host] = (
                MediaWorkers(host, settings.rtp_port_range(), settings.rtp_workers)
                if settings.rtp_workers > 0
                else MediaEngine(host, settings.rtp_port_range())
            )
        return SipCarrier(
            config,
            self.rt.clock,
            media,
            self.prompts,
            bind_host=host,
            public_host=settings.sip_public_host or None,
            recordings=Path(settings.data_dir) / "recordings",
            agents_endpoint=lambda: self.agents_endpoint,
            resolver=self.resolver,
            sessions=self.rt.sessions,
        )

    async def run(self, stop: asyncio.Event) -> None:
        # a database outage is one warning and one line when it is back, not a traceback per
        # refresh; any other failure keeps its traceback
        outage = Outage(log, "trunks and routes stay as last read until it is back")
        while not stop.is_set():
            try:
                await self.refresh()
                outage.ok()
            except Exception as exc:
                outage.failed(exc, "reading trunks (keeping the routing we have)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.rt.settings.trunk_refresh_seconds)

    async def close(self) -> None:
        for carrier in [*self._carriers.values(), *self._retired]:
            await carrier.close()
        for media in self._media.values():
            await media.close()
        await self.sandbox.close()
