"""One call through a trunk, outside any task: what `voxcast call` and the console's "test this
trunk" button both place, with its SIP trace and outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from voxcast.audio.playback import PromptAudio
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.ports import Answered, CallEvent, DialRequest, Dtmf, HungUp, Prompt
from voxcast.runtime import Runtime
from voxcast.services import trunks
from voxcast.telephony.directory import bind_host_towards, resolver_for
from voxcast.telephony.rtp.media import MediaEngine
from voxcast.telephony.sip.aio.carrier import Address, CallStats, SipCarrier, TrunkConfig
from voxcast.telephony.sip.core.message import Message, Request, Response

PROMPT_REF = "cli:prompt"
#: the console's test call: one second of silence, then we hang up
TEST_PROMPT = b"\0" * 16000
TEST_RINGING_S = 20
TEST_TALK_S = 5

Trace = Callable[[str, Message, Address], None]


@dataclass
class Outcome:
    """How the call ended: the final SIP code and reason, who hung up, the talk time, the
    keys pressed and the media counters."""

    sip_code: int
    reason: str
    hung_up_by: str
    answered: bool
    talk_s: float
    keys: str
    stats: CallStats
    #: the SIP messages' first lines, "→ host:port INVITE sip:..." / "← host:port 200 OK"
    trace: list[str] = field(default_factory=list)


def first_line(message: Message) -> str:
    if isinstance(message, Request):
        return f"{message.method} {message.uri}"
    assert isinstance(message, Response)
    return f"{message.status} {message.reason}"


async def place(
    settings: Settings,
    config: TrunkConfig,
    to: str,
    pcm: bytes,
    *,
    caller_id: str | None = None,
    loops: int = 1,
    max_ringing_s: int = 30,
    max_talk_s: int = 60,
    recordings: Path | None = None,
    trace: Trace | None = None,
    on_event: Callable[[CallEvent], None] | None = None,
) -> Outcome:
    """Dial `to` through `config` playing `pcm` (16-bit 8 kHz) `loops` times, on a SIP
    endpoint and media engine of its own, and wait for the call's end."""
    lines: list[str] = []

    def traced(direction: str, message: Message, peer: Address) -> None:
        arrow = "→" if direction == ">" else "←"
        lines.append(f"{arrow} {peer[0]}:{peer[1]}  {first_line(message)}")
        if trace is not None:
            trace(direction, message, peer)

    resolver = resolver_for(settings)
    host = settings.sip_bind_host or await bind_host_towards(resolver, config)
    media = MediaEngine(host, settings.rtp_port_range())
    prompts = PromptAudio(None)
    prompts.extra[PROMPT_REF] = pcm
    carrier = SipCarrier(
        config,
        SystemClock(),
        media,
        prompts,
        bind_host=host,
        public_host=settings.sip_public_host or None,
        recordings=recordings,
        trace=traced,
        resolver=resolver,
    )
    request = DialRequest(
        callee=to,
        caller_id=caller_id,
        prompt=Prompt(PROMPT_REF, len(pcm) / 16000),
        loop_count=loops,
        max_ringing_s=max_ringing_s,
        max_talk_s=max_talk_s,
        record=recordings is not None,
    )
    answered_at = None
    keys: list[str] = []
    end: HungUp | None = None
    try:
        placed = await carrier.dial(request)
        async for event in placed.events():
            if on_event is not None:
                on_event(event)
            if isinstance(event, Answered):
                answered_at = event.at
            elif isinstance(event, Dtmf):
                keys.append(event.digit)
            elif isinstance(event, HungUp):
                end = event
    finally:
        await carrier.close()
        await media.close()
    assert end is not None
    talk = (end.at - answered_at).total_seconds() if answered_at else 0.0
    return Outcome(
        sip_code=end.sip_code,
        reason=end.reason,
        hung_up_by=end.by.value,
        answered=answered_at is not None,
        talk_s=talk,
        keys="".join(keys),
        stats=placed.stats,
        trace=lines,
    )


def trunk_tester(rt: Runtime) -> Callable[[str, str], Awaitable[Outcome]]:
    """The console's test call: `tester(trunk_name, number)` dials the number through the
    stored trunk with a short silent prompt (trunks.TrunkError when there is no such trunk)."""

    async def test(name: str, to: str) -> Outcome:
        async with rt.readonly() as session:
            config = await trunks.get_config(session, rt.secrets, name)
        return await place(
            rt.settings,
            config,
            to,
            TEST_PROMPT,
            max_ringing_s=TEST_RINGING_S,
            max_talk_s=TEST_TALK_S,
        )

    return test
