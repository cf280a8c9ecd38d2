"""The agent's side of a transfer over SIP: ring the agent's softphone (an INVITE offering
only the callee's codec, so RTP is relayed packet for packet, no transcoding), and once it
answers bridge the two calls' media both ways."""

from __future__ import annotations

import asyncio
import secrets

from voxcast.ports import AgentSlot
from voxcast.telephony.rtp.media import MediaStream
from voxcast.telephony.sip import sdp, useragent
from voxcast.telephony.sip.dialog import Local
from voxcast.telephony.sip.message import SipError, parse_uri
from voxcast.telephony.sip.transport import SipEndpoint
from voxcast.telephony.sip.useragent import OutboundCall, Output


class AgentLeg:
    def __init__(
        self,
        *,
        endpoint: SipEndpoint,
        media: MediaStream,
        callee_media: MediaStream,
        slot: AgentSlot,
        codec: int,
        caller: str,
        local_host: str,
    ) -> None:
        self._endpoint = endpoint
        self.media = media
        self._callee_media = callee_media
        self.slot = slot
        self._codec = codec
        self._caller = caller
        self._local_host = local_host
        self._answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.ended = asyncio.Event()
        self.call: OutboundCall | None = None

    async def ring(self) -> bool:
        """Ring the agent until it answers (True) or not (False: no answer within the group's
        ring time, busy, unreachable)."""
        target = self.slot.target
        if not target:
            return False
        try:
            uri = parse_uri(target)
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
                self._local_host, self.media.port, secrets.randbelow(2**31), (self._codec,)
            ),
            ring_timeout=self.slot.ring_timeout_s,
            codecs=(self._codec,),
        )
        # the agent's target is the address its REGISTER came from; its Contact may be a
        # private address behind NAT, so in-dialog requests keep to that flow too
        self._endpoint.place(
            self.call, (uri.host, uri.port or 5060), self._on_output, follow_dialog=False
        )
        return await self._answer

    def _on_output(self, out: Output) -> None:
        if isinstance(out, useragent.Answered):
            self.media.start((out.media.address, out.media.port), out.media.codec, None)
            # bridge: whatever each side says reaches the other
            self.media.relay_to = self._callee_media
            self._callee_media.relay_to = self.media
            self._callee_media.stop_playing()
            if not self._answer.done():
                self._answer.set_result(True)
        elif isinstance(out, useragent.Ended):
            if not self._answer.done():
                self._answer.set_result(False)
            self.ended.set()  # after the answer: the agent hung up (the transfer task waits)

    def hangup(self) -> None:
        if self.call is not None and not self.ended.is_set():
            self._endpoint.hangup(self.call.call_id, "transfer over")

    def close(self) -> None:
        self._callee_media.relay_to = None
        self.media.close()
