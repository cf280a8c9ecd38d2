"""Speech quality for every language: audible, 8 kHz, as long as the text and rate imply."""

from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest

from voxcast.audio import (
    SAMPLE_RATE,
    EspeakEngine,
    PiperEngine,
    RenderError,
    choose_voice,
    speak,
)
from voxcast.audio.pcm import dbfs, rms
from voxcast.audio.tts import arabic_with_vowels, espeak_command, resample_pcm
from voxcast.audio.voices import espeak_wpm

#: RMS floor of rendered speech (espeak-ng and piper speak at about -20 dBFS)
RMS_FLOOR_DBFS = -35.0
ESPEAK_ONLY = [EspeakEngine()]

SAMPLES = {
    "VN": "Xin chào, mã xác nhận của bạn là một hai ba bốn.",
    "EN": "Hello, your verification code is one two three four.",
    "JP": "こんにちは、あなたのかくにんコードはいち、に、さん、よんです。",
    "ARB": "مرحبا، رمز التحقق الخاص بك هو واحد اثنان ثلاثة أربعة.",
    "DE": "Hallo, Ihr Bestätigungscode lautet eins zwei drei vier.",
    "IN": "नमस्ते, आपका सत्यापन कोड एक दो तीन चार है।",
    "IT": "Ciao, il tuo codice di verifica è uno due tre quattro.",
    "KR": "안녕하세요, 인증 코드는 일 이 삼 사 입니다.",
    "RU": "Здравствуйте, ваш код подтверждения один два три четыре.",
    "ES": "Hola, su código de verificación es uno dos tres cuatro.",
    "PT": "Olá, o seu código de verificação é um dois três quatro.",
    "IDN": "Halo, kode verifikasi Anda adalah satu dua tiga empat.",
    "BD": "হ্যালো, আপনার যাচাইকরণ কোড এক দুই তিন চার।",
    "TH": "สวัสดีครับ รหัสยืนยันของคุณคือ หนึ่ง สอง สาม สี่",
}


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / SAMPLE_RATE


@pytest.mark.parametrize("lan", sorted(set(SAMPLES) - {"JP"}))
@pytest.mark.parametrize("gender", [1, 2])
def test_every_espeak_language_renders_audible_8khz_speech_of_plausible_length(
    lan: str, gender: int
) -> None:
    text = SAMPLES[lan]
    pcm = speak(text, choose_voice(lan, None, gender, 1.0, engines=ESPEAK_ONLY))
    level = dbfs(rms(np.frombuffer(pcm, "<i2")))
    assert level > RMS_FLOOR_DBFS, level
    # 3 to 30 characters a second covers every script here, from Thai to Latin
    assert len(text) / 30 < seconds(pcm) < len(text) / 3


def test_speaking_rate_scales_the_duration() -> None:
    text = SAMPLES["EN"]
    normal = seconds(speak(text, choose_voice("EN", None, 2, 1.0, engines=ESPEAK_ONLY)))
    double = seconds(speak(text, choose_voice("EN", None, 2, 2.0, engines=ESPEAK_ONLY)))
    half = seconds(speak(text, choose_voice("EN", None, 2, 0.5, engines=ESPEAK_ONLY)))
    quarter = seconds(speak(text, choose_voice("EN", None, 2, 0.25, engines=ESPEAK_ONLY)))
    assert double == pytest.approx(normal / 2, rel=0.2)
    assert half == pytest.approx(normal * 2, rel=0.2)
    # below espeak-ng's 80 wpm floor the pauses between words make up the difference
    assert quarter == pytest.approx(normal * 4, rel=0.25)


def test_the_espeak_command_fallback_speaks_like_the_library() -> None:
    voice = choose_voice("EN", None, 2, 1.0, engines=ESPEAK_ONLY)
    by_library = speak(SAMPLES["EN"], voice)
    speech = espeak_command(SAMPLES["EN"], voice.name, espeak_wpm(voice.rate))
    by_command = resample_pcm(speech.pcm, speech.sample_rate)
    # the command adds a short pause at the end
    assert seconds(by_command) == pytest.approx(seconds(by_library), rel=0.15)
    fallback = EspeakEngine(use_library=False)
    assert fallback.version().startswith("eSpeak NG")
    assert seconds(resample_pcm(fallback.synthesize("one two", voice).pcm, 22050)) > 0.3


@pytest.mark.parametrize("text", ["", "   ", "...", "\x00"])
def test_text_that_makes_no_sound_is_a_render_error(text: str) -> None:
    with pytest.raises(RenderError, match="no audible speech"):
        speak(text, choose_voice("EN", engines=ESPEAK_ONLY))


def test_piper_is_chosen_only_for_a_voice_it_has() -> None:
    engines = [PiperEngine(), EspeakEngine()]
    assert engines[0].packages, "voxcast[piper] is installed by `make install`"
    male_us = choose_voice("EN", "1", 1, engines=engines)
    assert (male_us.engine, male_us.name) == ("piper", "en_US-joe-medium")
    # the default gender is female and the only shipped piper voice is male
    assert choose_voice("EN", "1", None, engines=engines).engine == "espeak-ng"
    assert choose_voice("EN", "44", 1, engines=engines).engine == "espeak-ng"
    assert choose_voice("DE", None, 1, engines=engines).engine == "espeak-ng"


def test_piper_renders_audible_speech_and_follows_the_rate() -> None:
    voice = choose_voice("EN", "1", 1, 1.0)
    assert voice.engine == "piper"
    pcm = speak(SAMPLES["EN"], voice)
    assert dbfs(rms(np.frombuffer(pcm, "<i2"))) > RMS_FLOOR_DBFS
    assert len(SAMPLES["EN"]) / 30 < seconds(pcm) < len(SAMPLES["EN"]) / 3
    fast = speak(SAMPLES["EN"], choose_voice("EN", "1", 1, 2.0))
    # the pauses between sentences do not shrink with the rate
    assert seconds(fast) < seconds(pcm) * 0.75


#: "Hello, this is a reminder of your appointment tomorrow morning", written as Arabic is:
#: consonants and long vowels only
ARABIC_PLAIN = "مرحبا، هذا تذكير بموعدك غدا صباحا"
HARAKAT = {chr(c) for c in range(0x064B, 0x0653)}


def test_arabic_is_given_its_short_vowels_before_espeak_reads_it() -> None:
    written = arabic_with_vowels(ARABIC_PLAIN)
    # the same letters, now with fatha, kasra, damma, sukun... between them
    assert "".join(c for c in written if c not in HARAKAT) == ARABIC_PLAIN
    assert sum(c in HARAKAT for c in written) >= 15
    assert written.startswith("مُرْحَبًا")

    # espeak-ng reads the vowels it is given (its phonemes differ)...
    def phonemes(text: str) -> str:
        out = subprocess.run(
            ["espeak-ng", "-v", "ar", "-q", "-x", text], capture_output=True, check=True
        )
        return out.stdout.decode()

    assert phonemes(written) != phonemes(ARABIC_PLAIN)
    # ...and the engine hands it the vowelled text for Arabic, the text as given otherwise
    engine = EspeakEngine()
    voice = choose_voice("ARB", None, 2, 1.0, engines=[engine])
    seen: list[str] = []
    real = engine._lib()
    assert real is not None

    class Spy:
        sample_rate = real.sample_rate

        def synthesize(self, text: str, *args: object) -> bytes:
            seen.append(text)
            return real.synthesize(text, *args)  # type: ignore[arg-type]

    engine._library = Spy()  # type: ignore[assignment]
    engine.synthesize(ARABIC_PLAIN, voice)
    engine.synthesize(ARABIC_PLAIN, dataclasses.replace(voice, lan="EN"))
    assert seen == [written, ARABIC_PLAIN]
