"""Makes this folder's greetings once (`python -m tests.data.amd.make`): 8 kHz G.711 µ-law WAVs
named `<truth>-<name>.wav` (truth `human` or `machine`), spoken by espeak-ng through a phone
line, plus synthetic cadences of single words and pauses. The WAVs are committed; rerun only
to change the set (bench/amd.py and tests/unit/hearing/test_amd_set.py read them)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from tests.listen import phone_line
from voxcast.audio import g711
from voxcast.audio.tts import espeak_command

HERE = Path(__file__).parent
RATE = 8000

VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+f4"]

MACHINE_TEXTS = [
    "Hi, you've reached Anna. I can't take your call right now, please leave a message "
    "after the tone.",
    "Hello, this is David. Sorry I missed you. Leave your name and number and I'll call you back.",
    "The person you are calling is not available. Please record your message after the beep.",
    "You have reached the voicemail of five five five, one two three four.",
    "Thanks for calling Smith and Sons. Our office is closed. Please leave a message.",
    "Hey, it's Mike. Leave a message.",
    "Hello. Please leave a message after the tone.",
    "Welcome to the voice mailbox of Sarah Jones. She is not available.",
]
HUMAN_TEXTS = [
    "Hello?",
    "Yes, who is this?",
    "Hello, Mark speaking.",
    "Hi.",
    "Yeah?",
    "Hello, who's calling?",
    "Good morning.",
    "Speaking.",
]


def silence(ms: int) -> bytes:
    return b"\x00\x00" * (RATE * ms // 1000)


def beep(ms: int = 400, hz: float = 1000.0, level: float = 8000.0) -> bytes:
    return b"".join(
        struct.pack("<h", int(level * math.sin(2 * math.pi * hz * i / RATE)))
        for i in range(RATE * ms // 1000)
    )


def spoken(text: str, voice: str, wpm: int = 170, gap: int = 0) -> bytes:
    speech = espeak_command(text, voice, wpm, gap)
    return phone_line(speech.pcm, speech.sample_rate)


def ulaw_wav(pcm: bytes) -> bytes:
    """A µ-law WAV (format 7): what a phone line carries, half the size of 16-bit PCM."""
    data = g711.ulaw_encode(pcm)
    fmt = struct.pack("<HHIIHHH", 7, 1, RATE, RATE, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", 4)
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body + (b"\x00" if len(data) % 2 else b"")


def read_ulaw_wav(path: Path) -> bytes:
    """The µ-law bytes of a WAV `ulaw_wav` wrote."""
    raw = path.read_bytes()
    at = 12
    while at + 8 <= len(raw):
        kind, size = raw[at : at + 4], struct.unpack("<I", raw[at + 4 : at + 8])[0]
        if kind == b"data":
            return raw[at + 8 : at + 8 + size]
        at += 8 + size + size % 2
    raise ValueError(f"{path}: no data chunk")


def write(name: str, pcm: bytes) -> None:
    (HERE / f"{name}.wav").write_bytes(ulaw_wav(pcm))


def main() -> None:
    for old in HERE.glob("*.wav"):
        old.unlink()
    for i, text in enumerate(MACHINE_TEXTS):
        voice = VOICES[i % len(VOICES)]
        wpm = 150 + 10 * (i % 4)
        hz = (1000.0, 850.0, 1400.0, 440.0)[i % 4]
        pcm = silence(300 + 100 * (i % 3)) + spoken(text, voice, wpm)
        write(f"machine-spoken{i}", pcm + silence(400) + beep(400, hz) + silence(2500))
    for i, text in enumerate(HUMAN_TEXTS):
        voice = VOICES[(i + 2) % len(VOICES)]
        pcm = silence(200 + 150 * (i % 4)) + spoken(text, voice, 160 + 10 * (i % 3))
        write(f"human-spoken{i}", pcm + silence(3000))
    # synthetic cadences: words and pauses as app_amd counts them
    word = spoken("hello", "en-us", 170)
    write("human-cadence-one-word", silence(500) + word + silence(3000))
    write(
        "human-cadence-two-words", silence(300) + spoken("yes hello", "en-us", 170) + silence(3000)
    )
    write("human-cadence-late-hello", silence(1800) + word + silence(3000))
    write(
        "machine-cadence-words",
        silence(300)
        + spoken("hello this is the answering machine of", "en-gb", 140, 15)
        + silence(800)
        + beep(300, 1200.0)
        + silence(2000),
    )
    write("machine-cadence-silent", silence(6000))
    # the hard ones, where cadence is known to be wrong: a person who answers with a whole
    # sentence, a machine whose greeting is as short as a "hello"
    write(
        "human-hard-long-answer",
        silence(300)
        + spoken("Hello, this is Mark from accounts, how can I help you today?", "en-us", 170)
        + silence(3000),
    )
    write(
        "human-hard-double-hello",
        silence(400) + spoken("Hello? Hello?", "en-gb", 160) + silence(3000),
    )
    write(
        "machine-hard-short",
        silence(300)
        + spoken("Hi, Bob here.", "en-us", 170)
        + silence(1000)
        + beep(500, 1000.0)
        + silence(2000),
    )
    write(
        "machine-hard-name-only",
        silence(300)
        + spoken("Anna.", "en-us+f3", 170)
        + silence(1500)
        + beep(400, 800.0)
        + silence(2000),
    )
    write(
        "machine-cadence-long-word",
        silence(200) + spoken("hellooooooooooooooo", "en-us", 80) + silence(3000),
    )


if __name__ == "__main__":
    main()
