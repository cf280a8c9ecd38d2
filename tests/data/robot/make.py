"""Makes the audio of the labelled set once (`python -m tests.data.robot.make`): each `spoken`
line of `labelled.py` said by voxcast's TTS, the voices taking turns (festival's slt, female,
and piper's joe, male), through a phone line (300-3400 Hz, 8 kHz, G.711 µ-law), as µ-law WAVs
named `<index>-<voice>.wav`, and `clips.json` naming each file's text. The WAVs are committed:
synthesising them takes longer than the tests may; rerun only to change the set."""

from __future__ import annotations

import json
from pathlib import Path

from tests.data.amd.make import ulaw_wav
from tests.data.robot.labelled import spoken
from tests.listen import phone_line
from voxcast.audio.tts import choose_voice, speak

HERE = Path(__file__).parent
#: vendor gender codes: 2 female (festival slt), 1 male (piper joe) on a machine with both
GENDERS = (("f", 2), ("m", 1))
MANIFEST = HERE / "clips.json"


def main() -> None:
    for old in HERE.glob("*.wav"):
        old.unlink()
    voices = [(tag, choose_voice("EN", None, gender)) for tag, gender in GENDERS]
    manifest = []
    for i, line in enumerate(spoken()):
        tag, voice = voices[i % len(voices)]
        name = f"{i:02d}-{tag}.wav"
        (HERE / name).write_bytes(ulaw_wav(phone_line(speak(line.text, voice))))
        manifest.append({"file": name, "text": line.text, "voice": f"{voice.engine}:{voice.name}"})
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
