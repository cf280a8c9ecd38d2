"""The robot's labelled set (see labelled.py and make.py): callee lines with the intent each
means, and the audio of the spoken ones as a call's hearing takes it (20 ms G.711 payloads
through the `Ear`, its turns to the recognizer), scored for word errors and intents."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.data.amd.make import read_ulaw_wav
from tests.data.robot.labelled import UTTERANCES, Labelled, candidates, script, spoken
from tests.data.robot.make import HERE, MANIFEST
from tests.listen import word_errors
from voxcast.audio.hearing.ear import Ear
from voxcast.audio.hearing.turns import TurnEnded
from voxcast.robot.intent import match_intent

#: silence around each clip: the callee's line starts after a pause and the turn must end
LEAD_MS, TAIL_MS = 300, 1500
ULAW_SILENCE = b"\xff"


@dataclass(frozen=True)
class Clip:
    line: Labelled
    file: str
    voice: str
    audio: bytes  # µ-law, 8 kHz


@dataclass(frozen=True)
class Heard:
    clip: Clip
    text: str
    intent: str | None
    errors: int
    words: int

    @property
    def right(self) -> bool:
        return self.intent == self.clip.line.intent


def clips() -> list[Clip]:
    """The spoken lines' audio, checked against the manifest (a changed text needs make.py)."""
    manifest = json.loads(MANIFEST.read_text())
    lines = spoken()
    if [m["text"] for m in manifest] != [line.text for line in lines]:
        raise RuntimeError("tests/data/robot: spoken lines changed; rerun make.py")
    return [
        Clip(line, m["file"], m["voice"], read_ulaw_wav(HERE / m["file"]))
        for line, m in zip(lines, manifest, strict=True)
    ]


def turns(audio: bytes) -> list[bytes]:
    """The callee's turns (16-bit PCM) the Ear cuts from `audio`, fed as 20 ms payloads."""
    ear = Ear()
    padded = ULAW_SILENCE * (8 * LEAD_MS) + audio + ULAW_SILENCE * (8 * TAIL_MS)
    out: list[bytes] = []
    for start in range(0, len(padded), 160):
        out += [e.pcm for e in ear.feed(padded[start : start + 160]) if isinstance(e, TurnEnded)]
    return out


def intent_of(text: str, node: str) -> str | None:
    found = match_intent(text, candidates(script(), node))
    return found.intent if found is not None else None


def hear(clip: Clip, pcm_turns: list[bytes], transcribe: Callable[[bytes], str]) -> Heard:
    text = " ".join(t for t in (transcribe(pcm).strip() for pcm in pcm_turns) if t)
    errors, words = word_errors(clip.line.text, text)
    return Heard(clip, text, intent_of(text, clip.line.node), errors, words)


def wer(heard: list[Heard]) -> float:
    return sum(h.errors for h in heard) / sum(h.words for h in heard)


def accuracy(heard: list[Heard]) -> float:
    return sum(h.right for h in heard) / len(heard)


__all__ = [
    "HERE",
    "UTTERANCES",
    "Clip",
    "Heard",
    "Labelled",
    "accuracy",
    "candidates",
    "clips",
    "hear",
    "intent_of",
    "script",
    "spoken",
    "turns",
    "wer",
]
