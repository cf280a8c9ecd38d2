"""`voxcast call`: place one call through a trunk and print every SIP message and the outcome,
the way to check a new trunk before sending a campaign through it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from voxcast.cli.common import DatabaseOpt, open_rt, settings_for

if TYPE_CHECKING:
    from voxcast.ports import CallEvent
    from voxcast.telephony.sip.aio.carrier import Address
    from voxcast.telephony.sip.core.message import Message

console = Console(highlight=False)
err_console = Console(stderr=True)


def _audio(play: Path | None, say: str | None, lan: str) -> bytes:
    from voxcast.audio import choose_voice, normalize
    from voxcast.audio.errors import AudioError
    from voxcast.audio.tts import speak

    if (play is None) == (say is None):
        raise typer.BadParameter("give exactly one of --play FILE or --say TEXT")
    try:
        if play is not None:
            return normalize(play.read_bytes(), play.suffix.lstrip(".")).pcm
        return speak(say or "", choose_voice(lan))
    except (OSError, AudioError) as err:
        err_console.print(f"[red]error[/red] cannot prepare the prompt: {err}")
        raise typer.Exit(2) from err


def call(
    trunk: Annotated[str, typer.Option(help="the trunk to call through (`admin trunk add`)")],
    to: Annotated[str, typer.Option(help="the number to call")],
    play: Annotated[Path | None, typer.Option(help="an audio file to play (any format)")] = None,
    say: Annotated[str | None, typer.Option(help="text to speak instead of a file")] = None,
    lan: Annotated[str, typer.Option(help="language of --say (vendor code, e.g. EN)")] = "EN",
    caller_id: Annotated[str | None, typer.Option(help="the From number")] = None,
    loops: Annotated[int, typer.Option(min=1, max=10, help="play the prompt N times")] = 1,
    max_ringing: Annotated[int, typer.Option(min=1, max=300, help="seconds")] = 30,
    max_talk: Annotated[int, typer.Option(min=1, max=3600, help="seconds")] = 60,
    record: Annotated[Path | None, typer.Option(help="save the far end's audio here")] = None,
    quiet_sip: Annotated[bool, typer.Option(help="do not print SIP messages")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Place one call and print each SIP event and the outcome (exit 0 when answered)."""
    # the SIP stack and the audio engines: loaded by this command alone
    from voxcast.services import trunks
    from voxcast.telephony import onecall

    pcm = _audio(play, say, lan)
    settings = settings_for(database_url)

    async def main() -> bool:
        rt = await open_rt(settings)
        try:
            async with rt.sessions() as session:
                config = await trunks.get_config(session, rt.secrets, trunk)
        except trunks.TrunkError as err:
            err_console.print(f"[red]error[/red] {err}")
            raise typer.Exit(2) from err
        finally:
            await rt.close()
        start = time.monotonic()

        def stamp() -> str:
            return f"{time.monotonic() - start:7.3f}"

        def trace(direction: str, message: Message, peer: Address) -> None:
            if not quiet_sip:
                arrow = "→" if direction == ">" else "←"
                line = onecall.first_line(message)
                console.print(f"{stamp()} {arrow} {peer[0]}:{peer[1]}  {line}")

        def shown(event: CallEvent) -> None:
            console.print(f"{stamp()}   [bold]{type(event).__name__}[/bold]")

        end = await onecall.place(
            settings,
            config,
            to,
            pcm,
            caller_id=caller_id,
            loops=loops,
            max_ringing_s=max_ringing,
            max_talk_s=max_talk,
            recordings=record.parent if record else None,
            trace=trace,
            on_event=shown,
        )
        stats = end.stats
        console.print(
            f"outcome: sip {end.sip_code} ({end.reason}), hung up by {end.hung_up_by}, "
            f"talk {end.talk_s:.1f} s, keys {end.keys or '-'}, "
            f"rtp sent {stats.rtp_sent} received {stats.rtp_received}"
            + (f", srtp {stats.srtp} dropped {stats.srtp_failed}" if stats.srtp else "")
            + (f", {stats.rtp_dropped} frames dropped (stalled)" if stats.rtp_dropped else "")
        )
        if record is not None and stats.recording is not None:
            stats.recording.replace(record)
            console.print(f"recording: {record}")
        if stats.recording_full is not None:  # --record keeps the far end's side only
            stats.recording_full.unlink(missing_ok=True)
        return end.answered

    if not asyncio.run(main()):
        raise typer.Exit(1)
