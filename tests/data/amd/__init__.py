"""The answering-machine test set (see make.py): each greeting with its truth, and the verdict
voxcast's listener reaches on it, fed as 20 ms G.711 payloads as a call would feed it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.data.amd.make import HERE, read_ulaw_wav
from voxcast.audio.hearing.machine import MachineListener
from voxcast.domain.amd import AmdResult, AmdSettings, GreetingOver, Verdict


@dataclass(frozen=True)
class Judged:
    name: str
    truth: Verdict
    result: AmdResult | None
    greeting_over: GreetingOver | None

    @property
    def verdict(self) -> Verdict:
        return self.result.verdict if self.result is not None else Verdict.NOTSURE

    @property
    def right(self) -> bool:
        return self.verdict is self.truth


def greetings() -> list[tuple[str, Verdict, bytes]]:
    """(name, truth, µ-law audio) of every WAV here, in name order."""
    out = []
    for path in sorted(HERE.glob("*.wav")):
        truth = Verdict.MACHINE if path.name.startswith("machine-") else Verdict.HUMAN
        out.append((path.stem, truth, read_ulaw_wav(path)))
    return out


def judge(name: str, truth: Verdict, audio: bytes, settings: AmdSettings | None = None) -> Judged:
    listener = MachineListener(settings or AmdSettings(), greeting_end=True)
    for start in range(0, len(audio), 160):
        listener.feed(audio[start : start + 160])
        if listener.done:
            break
    return Judged(name, truth, listener.result, listener.greeting_over)


def judge_all(settings: AmdSettings | None = None) -> list[Judged]:
    return [judge(name, truth, audio, settings) for name, truth, audio in greetings()]


__all__ = ["HERE", "Judged", "Path", "greetings", "judge", "judge_all"]
