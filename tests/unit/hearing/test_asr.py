"""Speech recognition behind its port: telephone audio is resampled to 16 kHz by PyAV's sinc
filter (no images of the band above 4 kHz), the packaged tiny.en Whisper hears a phrase said on
a phone line, an OpenAI-compatible server (a real local HTTP server here) gets a 16 kHz WAV,
and the bounded pool answers "busy" at once when full instead of making a turn wait."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tests.unit.hearing.speech import said, voiced
from voxcast.audio.hearing import (
    AsrError,
    HttpRecognizer,
    RecognizerPool,
    WhisperRecognizer,
    packaged_model,
    recognizer_from_env,
    upsample,
)
from voxcast.audio.hearing.asr import LOOP_COMPRESSION, compression_ratio, fitted_window


def tone(freq: float, seconds: float = 1.0, rate: int = 8000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (12000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def spectrum_share(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


# --- resampling ------------------------------------------------------------------------------


def test_upsampling_keeps_the_band_and_puts_nothing_above_it() -> None:
    out = upsample(tone(3000.0))
    assert out.dtype == np.float32
    assert abs(out.size - 16000) <= 64  # twice the samples (the filter's delay aside)
    body = out[400:-400]
    # all of the power at 3 kHz; its mirror image at 5 kHz (what linear interpolation
    # leaves, about -20 dB) is gone
    assert spectrum_share(body, 16000, 2900, 3100) > 0.999
    assert spectrum_share(body, 16000, 4100, 8000) < 1e-5
    interpolated = np.interp(
        np.arange(16000) / 2, np.arange(8000), np.frombuffer(tone(3000.0), "<i2")
    )
    assert spectrum_share(interpolated[400:-400], 16000, 4100, 8000) > 1e-3


def test_nothing_upsamples_to_nothing() -> None:
    assert upsample(b"").size == 0


# --- the packaged Whisper model --------------------------------------------------------------


@pytest.fixture(scope="session")
def whisper() -> WhisperRecognizer:
    return WhisperRecognizer(packaged_model(), threads=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Yes, I can pay on Friday.", {"pay", "friday"}),
        ("Who is this?", {"who", "this"}),
        ("Please stop calling me.", {"stop", "calling"}),
    ],
)
def test_whisper_hears_a_phrase_said_on_a_phone_line(
    whisper: WhisperRecognizer, text: str, words: set[str]
) -> None:
    started = time.perf_counter()
    heard = whisper.transcribe(voiced(text))
    # tiny.en on one thread: about 0.5 s on an idle core; the bound leaves room for a busy one
    assert time.perf_counter() - started < 20
    found = set(heard.lower().replace("?", " ").replace(".", " ").replace(",", " ").split())
    assert words <= found, heard


def test_a_turn_is_encoded_in_whole_ten_second_windows_up_to_whisper_s_thirty() -> None:
    assert fitted_window(0, 1000, 3000) == 1000
    assert fitted_window(250, 1000, 3000) == 1000  # a 2.5 s "yes, that's me"
    assert fitted_window(1000, 1000, 3000) == 1000
    assert fitted_window(1001, 1000, 3000) == 2000
    assert fitted_window(2950, 1000, 3000) == 3000
    assert fitted_window(9000, 1000, 3000) == 3000


def test_a_looping_transcript_compresses_far_more_than_a_sentence() -> None:
    once = "Please stop calling me."
    assert compression_ratio(once) < LOOP_COMPRESSION
    assert compression_ratio(" ".join([once] * 8)) > LOOP_COMPRESSION
    assert compression_ratio("") == 0.0


@pytest.mark.slow
def test_a_looping_decode_on_the_short_window_is_decoded_again_on_the_full_one(
    whisper: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows: list[int] = []
    decode = whisper._decode

    def looping_when_short(features: Any, window: int, language: str) -> str:
        windows.append(window)
        if window < 3000:
            return "Who is this? " * 12
        return decode(features, window, language)

    monkeypatch.setattr(whisper, "_decode", looping_when_short)
    heard = whisper.transcribe(voiced("Who is this?"))
    assert windows == [1000, 3000]
    assert "who" in heard.lower() and heard.lower().count("who") == 1, heard


@pytest.mark.slow
def test_whisper_takes_an_english_only_model_as_english_whatever_it_is_asked(
    whisper: WhisperRecognizer,
) -> None:
    assert not whisper.multilingual
    assert "friday" in whisper.transcribe(voiced("On Friday."), language="de").lower()


def test_a_model_directory_without_its_tokenizer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"\0")
    with pytest.raises(AsrError, match=r"no tokenizer\.json"):
        WhisperRecognizer(tmp_path)


def test_the_environment_chooses_the_engine(tmp_path: Path) -> None:
    with pytest.raises(AsrError, match=r"no model\.bin"):
        recognizer_from_env({"VOXCAST_ASR_MODEL": str(tmp_path)})
    http = recognizer_from_env(
        {"VOXCAST_ASR_ENGINE": "http", "VOXCAST_ASR_URL": "http://127.0.0.1:9/v1/"}
    )
    assert isinstance(http, HttpRecognizer)
    assert http.url == "http://127.0.0.1:9/v1/audio/transcriptions"
    with pytest.raises(AsrError, match="not an http"):
        recognizer_from_env({"VOXCAST_ASR_ENGINE": "http", "VOXCAST_ASR_URL": "ftp://x"})
    with pytest.raises(AsrError, match="one of whisper, http"):
        recognizer_from_env({"VOXCAST_ASR_ENGINE": "sphinx"})


# --- an OpenAI-compatible server -------------------------------------------------------------


class Transcriptions(BaseHTTPRequestHandler):
    """POST /v1/audio/transcriptions: records the form, answers {"text": ...} (or a status
    the test sets)."""

    seen: ClassVar[list[dict[str, object]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        form = _multipart(self.headers["Content-Type"], body)
        type(self).seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization")} | form
        )
        with wave.open(io.BytesIO(form["file"]), "rb") as w:  # type: ignore[arg-type]
            rate = w.getframerate()
        reply = json.dumps({"text": f" heard at {rate} Hz "}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _multipart(content_type: str, body: bytes) -> dict[str, object]:
    boundary = content_type.split("boundary=")[1].encode()
    out: dict[str, object] = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        out[name] = value if name == "file" else value.decode()
    return out


@pytest.fixture
def server() -> Iterator[str]:
    Transcriptions.seen = []
    Transcriptions.status = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Transcriptions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_http_engine_posts_a_16_khz_wav_and_reads_the_text(server: str) -> None:
    engine = HttpRecognizer(server, model="whisper-large-v3", api_key="k1")
    assert engine.transcribe(said("Hello?"), language="en") == "heard at 16000 Hz"
    [request] = Transcriptions.seen
    assert request["path"] == "/v1/audio/transcriptions"
    assert request["auth"] == "Bearer k1"
    assert (request["model"], request["language"], request["response_format"]) == (
        "whisper-large-v3",
        "en",
        "json",
    )


def test_a_failing_server_is_an_asr_error(server: str) -> None:
    Transcriptions.status = 503
    with pytest.raises(AsrError, match="HTTP 503"):
        HttpRecognizer(server).transcribe(said("Hello?"))
    with pytest.raises(AsrError, match="ConnectError"):
        HttpRecognizer("http://127.0.0.1:9/v1", timeout=1).transcribe(said("Hello?"))


# --- the bounded pool ------------------------------------------------------------------------


class Gate:
    """A recognizer that waits for the test to open it: a saturated engine on demand."""

    name = "gate"
    concurrency = 1

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()

    def transcribe(self, pcm: bytes, *, language: str | None = None) -> str:
        self.started.set()
        assert self.open.wait(10)
        if pcm == b"boom":
            raise RuntimeError("engine failed")
        return f"{len(pcm)} bytes"


async def test_a_full_pool_answers_busy_at_once_and_serves_again_when_free() -> None:
    gate = Gate()
    pool = RecognizerPool(gate, workers=1, queue=1)
    try:
        first = asyncio.ensure_future(pool.recognize(b"\0" * 320))
        queued = asyncio.ensure_future(pool.recognize(b"\0" * 640))
        await asyncio.sleep(0)
        assert await asyncio.to_thread(gate.started.wait, 5)
        started = time.perf_counter()
        busy = await pool.recognize(b"\0" * 960)
        assert time.perf_counter() - started < 0.05  # no waiting behind the others
        assert (busy.status, busy.text, pool.busy) == ("busy", "", 1)
        gate.open.set()
        assert [(r.status, r.text) for r in await asyncio.gather(first, queued)] == [
            ("ok", "320 bytes"),
            ("ok", "640 bytes"),
        ]
        again = await pool.recognize(b"\0" * 960)
        assert (again.status, again.text, pool.in_flight) == ("ok", "960 bytes", 0)
    finally:
        gate.open.set()
        pool.close()


async def test_a_slow_turn_times_out_but_keeps_its_place_until_it_finishes() -> None:
    gate = Gate()
    pool = RecognizerPool(gate, workers=1, timeout_s=0.1)
    try:
        late = await pool.recognize(b"\0" * 320)
        assert late.status == "timeout"
        assert pool.in_flight == 1  # the thread still runs: the bound holds
        assert (await pool.recognize(b"x")).status == "busy"
        gate.open.set()
        for _ in range(100):
            if pool.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.in_flight == 0
        failed = await pool.recognize(b"boom")
        assert (failed.status, failed.error) == ("error", "RuntimeError: engine failed")
    finally:
        gate.open.set()
        pool.close()


@pytest.mark.slow
async def test_the_pool_runs_whisper_off_the_event_loop(whisper: WhisperRecognizer) -> None:
    pool = RecognizerPool(whisper, workers=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    try:
        result = await pool.recognize(voiced("I can pay on Friday."))
    finally:
        task.cancel()
        pool.close()
    assert result.ok and "friday" in result.text.lower()
    assert result.engine == "whisper" and result.seconds > 0
    # the loop kept turning while the model worked
    assert ticks >= int(result.seconds / 0.01 * 0.3)
