"""The registrar agents' softphones REGISTER with (`VOXCAST_REGISTRAR=host:port`): one UDP
SIP socket, digest-checked against each agent's password, and agent status kept in step with
registration (idle when registered, offline when unregistered or expired). INVITEs to it are
inbound calls to our numbers (`callin`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from voxcast.dialer.desk import DbAgentDesk
from voxcast.runtime import Runtime
from voxcast.services import agents
from voxcast.storage.db import Outage
from voxcast.telephony.callcenter.callin import InboundCalls
from voxcast.telephony.directory import prompt_audio
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.sip.aio.transport import Address, SipEndpoint
from voxcast.telephony.sip.core.message import Request, new_tag, response_to
from voxcast.telephony.sip.core.registrar import Registrar

log = logging.getLogger("voxcast.registrar")
REALM = "voxcast"
SWEEP_SECONDS = 10.0


def parse_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"VOXCAST_REGISTRAR={text!r}: expected host:port, e.g. 127.0.0.1:5060")
    return host.strip("[]"), int(port)


class AgentRegistrar:
    def __init__(self, rt: Runtime, host: str, port: int, *, owner: str | None = None) -> None:
        """`owner`: the worker id seats taken for inbound calls are held by (its dialer
        renews the holds; another worker's frees them if it dies)."""
        self.rt = rt
        self.host, self.port = host, port
        self.owner = owner
        # nonces are signed per process: only the process holding the port answers REGISTERs
        self.registrar = Registrar(REALM, secrets.token_bytes(32))
        self.endpoint: SipEndpoint | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.inbound: InboundCalls | None = None
        self._media: MediaEngine | None = None

    @property
    def address(self) -> Address:
        assert self.endpoint is not None
        return self.endpoint.address

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.endpoint = await SipEndpoint.open(self.host, self.port, loop.time)
        self.endpoint.on_request = self._on_request
        settings = self.rt.settings
        # inbound calls' RTP (the caller's and the agent's legs) on the registrar's address
        self._media = MediaEngine(self.host, settings.rtp_port_range())
        self.inbound = InboundCalls(
            self.rt,
            self.endpoint,
            self._media,
            prompt_audio(self.rt),
            DbAgentDesk(self.rt, virtual=False, owner=self.owner),
            local_host=settings.sip_public_host or self.address[0],
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="registrar-sweep")
        log.info("registrar listening on %s:%s (realm %s)", *self.address, REALM)

    def _on_request(self, request: Request, peer: Address) -> bool:
        if request.method == "INVITE" and self.inbound is not None:
            ready = self.endpoint is None or self.endpoint.ready is None or self.endpoint.ready()
            if not ready and self.endpoint is not None:
                # draining or without its database: Kamailio tries the next node on a 503
                refusal = response_to(request, 503, to_tag=new_tag())
                refusal.headers.add("Retry-After", "5")
                self.endpoint.send(refusal, peer)
                return True
            return self.inbound.offer(request, peer)
        if request.method != "REGISTER":
            return False
        job = asyncio.create_task(self._register(request, peer))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return True

    async def _register(self, request: Request, peer: Address) -> None:
        try:
            name = self.registrar.username_of(request)
            password = None
            if name is not None:
                async with self.rt.sessions() as session:
                    password = await agents.agent_password(session, self.rt.secrets, name)
            now = self.rt.wall.now().timestamp()
            response, binding = self.registrar.handle(request, peer, password, now)
            if binding is not None:
                target = None if binding.contact == "*" else binding.target
                async with self.rt.sessions.begin() as session:
                    await agents.apply_binding(
                        session,
                        binding.username,
                        target,
                        binding.expires,
                        self.rt.clock.now(),
                        binding.path,
                    )
                log.info(
                    "agent %s %s",
                    binding.username,
                    f"registered from {peer[0]}:{peer[1]}"
                    + (f" by way of {', '.join(binding.path)}" if binding.path else "")
                    if binding.expires
                    else "left",
                )
        except Exception:
            log.exception("REGISTER from %s:%s failed", *peer)
            return
        if self.endpoint is not None:
            self.endpoint.send(response, peer)

    async def _sweep(self) -> None:
        # a database outage is one warning and a line when it is back, not a traceback a sweep
        outage = Outage(log, "registrations expire when it is back")
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                async with self.rt.sessions.begin() as session:
                    await agents.expire_registrations(session, self.rt.clock.now())
                outage.ok()
            except Exception as exc:
                outage.failed(exc, "expiring registrations")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for job in list(self._jobs):
            job.cancel()
        if self.inbound is not None:
            await self.inbound.close()
        if self.endpoint is not None:
            await self.endpoint.close()
        if self._media is not None:
            await self._media.close()
