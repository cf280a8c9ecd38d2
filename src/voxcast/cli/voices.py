"""`voxcast voices list` (installed voices per language, with licences) and `voxcast voices
test` (speak one text to a WAV file and print the real-time factor)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

voices_app = typer.Typer(help="Text-to-speech voices: what is installed, and a test.")
#: `voxcast tts say`: the name a newcomer looks for to hear a text (the same command as
#: `voices test`)
tts_app = typer.Typer(help="Hear a text as a call would say it (`say`).")
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True)


def _rows() -> list[dict[str, str]]:
    # the audio engines (numpy, PyAV) are loaded by the voices commands alone
    from voxcast.audio.catalog import ESPEAK_LICENCE, configured_rules
    from voxcast.audio.tts import NEEDS_OWN_VOICE, check_address, installed_voices
    from voxcast.audio.voices import LANGUAGES

    rows = []
    for rule in configured_rules():
        problem = check_address(rule.address)
        rows.append(
            {
                "lan": rule.lan,
                "accents": rule.locale or "all",
                "gender": rule.gender.name.lower() if rule.gender else "any",
                "address": str(rule.address),
                "licence": "operator's voice (VOXCAST_VOICES)",
                "status": "installed" if problem is None else f"NOT USABLE: {problem}",
            }
        )
    for voice in installed_voices():
        rows.append(
            {
                "lan": voice.lan,
                "accents": ", ".join(voice.locales) or "all",
                "gender": voice.gender.name.lower(),
                "address": str(voice.address),
                "licence": voice.licence,
                "status": f"installed ({voice.source})",
            }
        )
    for code, language in LANGUAGES.items():
        if code in NEEDS_OWN_VOICE:
            if not any(r["lan"] == code for r in rows):
                rows.append(
                    {
                        "lan": code,
                        "accents": "all",
                        "gender": "any",
                        "address": "-",
                        "licence": "-",
                        "status": f"REFUSED (-39): {NEEDS_OWN_VOICE[code]}",
                    }
                )
            continue
        rows.append(
            {
                "lan": code,
                "accents": "all",
                "gender": "male, female",
                "address": f"espeak:{language.default.espeak}+m3/+f3 (per accent)",
                "licence": ESPEAK_LICENCE,
                "status": "installed (fallback)",
            }
        )
    return rows


@voices_app.command("list")
def list_voices(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """Voices this machine can speak with, per language, best first, with their licences."""
    rows = _rows()
    if as_json:
        for row in rows:
            console.print(json.dumps(row, ensure_ascii=False), soft_wrap=True)
        return
    table = Table("lan", "accents", "gender", "address", "licence", "status")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


@voices_app.command("test")
def test_voice(
    text: Annotated[str, typer.Argument(help="what to say")],
    lan: Annotated[str, typer.Option("--lan", help="vendor language code, e.g. EN")] = "EN",
    gender: Annotated[int | None, typer.Option(help="ssmlGender: 1 male, 2 female")] = None,
    accent: Annotated[str | None, typer.Option(help="accent (calling code)")] = None,
    rate: Annotated[float | None, typer.Option(help="speakingRate 0.25-4")] = None,
    out: Annotated[Path, typer.Option(help="WAV file to write (8 kHz mono)")] = Path(
        "voice-test.wav"
    ),
) -> None:
    """Speak TEXT with the voice the API would choose; write the 8 kHz WAV, print the voice
    and the real-time factor (synthesis time / audio length; below 1 is faster than real
    time; the first call includes loading the model)."""
    from voxcast.audio.errors import AudioError, TtsLanguage
    from voxcast.audio.pcm import BYTES_PER_SECOND, wav_bytes
    from voxcast.audio.tts import choose_voice, speak_with
    from voxcast.audio.voices import Gender

    if gender is not None and gender not in (Gender.MALE, Gender.FEMALE):
        raise typer.BadParameter("--gender is 1 (male) or 2 (female)")
    try:
        voice = choose_voice(lan, accent, gender, rate)
        started = time.perf_counter()
        pcm, used = speak_with(text, voice)
        seconds = time.perf_counter() - started
    except TtsLanguage as err:
        err_console.print(f"[red]refused[/red] (-39) {err.field}: {err.detail}")
        raise typer.Exit(2) from None
    except AudioError as err:
        err_console.print(f"[red]error[/red] {err.detail}")
        raise typer.Exit(2) from None
    out.write_bytes(wav_bytes(pcm))
    audio = len(pcm) / BYTES_PER_SECOND
    fell_back = "" if used == voice else f" (fell back from {voice.address})"
    gender_name = used.gender.name.lower()
    console.print(f"voice {used.address}{fell_back} ({used.lan} {used.locale} {gender_name})")
    rtf = seconds / audio
    console.print(f"wrote {out}: {audio:.2f} s of audio in {seconds:.2f} s, RTF {rtf:.3f}")


tts_app.command("say")(test_voice)
