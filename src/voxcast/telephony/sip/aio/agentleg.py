"""The agent's side of a transfer over SIP: ring the agent's softphone (an INVITE offering
only the callee's codec, so RTP is relayed packet for packet, no transcoding), and once it
answers bridge the two calls' media both ways. A click-to-call rings the phone first, before
there is a callee: it offers the trunk's codecs and is bridged (`bridge`) once the callee's
media is up."""

from __future__ import annotations

import asyncio
import secrets

from voxcast.ports import ReservedAgent
from voxcast.telephony.rtp.media import MediaStream
from voxcast.telephony.sip.aio.transport import SipEndpoint
from voxcast.telephony.sip.core import sdp, useragent
from voxcast.telephony.sip.core.dialog import Local
from voxcast.telephony.sip.core.message import SipError, parse_name_addr, parse_uri
from voxcast.telephony.sip.core.useragent import OutboundCall, Output


class AgentLeg:
    def __init__(
        self,
        *,
        endpoint: SipEndpoint,
        media: MediaStream,
        callee_media: MediaStream | None,
        agent: ReservedAgent,
        codecs: tuple[int, ...],
        caller: str,
        local_host: str,
    ) -> None:
        self._endpoint = endpoint
        self.media = media
        self._callee_media = callee_media
        self.agent = agent
        self._codecs = codecs
        #: the codec the phone answered with (what the callee must be offered to relay as is)
        self.codec: int | None = None
        #: the phone's final code when it did not answer
        self.sip_code = 0
        self._caller = caller
        self._local_host = local_host
        self._answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.ended = asyncio.Event()
        self.call: OutboundCall | None = None

    async def ring(self) -> bool:
        """Ring the agent until it answers (True) or not (False: no answer within the group's
        ring time, busy, unreachable)."""
        target = self.agent.target
        if not target:
            return False
        try:
            uri = parse_uri(target)
            # through a proxy's Path (RFC 3327): loose-routed via its first entry, the request
            # URI the phone's own Contact (the proxy knows how to reach it)
            hop = parse_uri(parse_name_addr(self.agent.route[0]).uri) if self.agent.route else uri
        except SipError:
            return False
        port = self._endpoint.address[1]
        self.call = OutboundCall(
            local=Local(self._local_host, port),
            target_uri=target,
            from_uri=f"sip:{self._caller}@{self._local_host}",
            call_id=f"{secrets.token_hex(12)}@voxcast",
            from_tag=secrets.token_hex(6),
            sdp_offer=sdp.offer(
                self._local_host, self.media.port, secrets.randbelow(2**31), self._codecs
            ),
            ring_timeout=self.agent.ring_timeout_s,
            codecs=self._codecs,
            route=self.agent.route,
        )
        # the agent's target is the address its REGISTER came from (or the proxy it came
        # through); its Contact may be a private address behind NAT, so in-dialog requests keep
        # to that flow too
        self._endpoint.place(
            self.call, (hop.host, hop.port or 5060), self._on_output, follow_dialog=False
        )
        return await self._answer

    def _on_output(self, out: Output) -> None:
        if isinstance(out, useragent.Answered):
            self.codec = out.media.codec
            self.media.start((out.media.address, out.media.port), out.media.codec, None)
            if self._callee_media is not None:
                self.bridge(self._callee_media)
            if not self._answer.done():
                self._answer.set_result(True)
        elif isinstance(out, useragent.Ended):
            if not self._answer.done():
                self.sip_code = out.code
                self._answer.set_result(False)
            self.ended.set()  # after the answer: the agent hung up (the transfer task waits)

    def bridge(self, callee_media: MediaStream) -> None:
        """Whatever each side says reaches the other (what we played to either stops)."""
        self._callee_media = callee_media
        self.media.relay_to = callee_media
        callee_media.relay_to = self.media
        callee_media.stop_playing()
        self.media.stop_playing()

    def hangup(self) -> None:
        if self.call is not None and not self.ended.is_set():
            self._endpoint.hangup(self.call.call_id, "transfer over")

    def close(self) -> None:
        if self._callee_media is not None:
            self._callee_media.relay_to = None
        self.media.close()
