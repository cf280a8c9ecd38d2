"""Voice activity on telephone audio: speech rendered by espeak-ng and sent through G.711 is
found, digital silence never is; Silero does not take a hissing line for a talker, where
WebRTC's detector does, and WebRTC ends with the word, where Silero trails it: the default
uses both."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.hearing.speech import flags, noise, said, silence, speech_ms
from voxcast.audio.hearing import FRAME_BYTES, SileroDetector, WebRtcDetector, detector


@pytest.mark.parametrize("engine", ["silero+webrtc", "silero", "webrtc"])
def test_speech_on_a_phone_line_is_speech_and_silence_is_not(engine: str) -> None:
    vad = detector(engine)
    assert vad.name == engine
    phrase = said("Yes, I can pay on Friday.")
    heard = flags(vad, silence(500) + phrase + silence(1000))
    lead, body, tail = heard[:25], heard[25 : 25 + len(phrase) // FRAME_BYTES], heard[-40:]
    assert not any(lead)
    # espeak's words run together: most of the phrase's frames are voiced
    assert sum(body) >= 0.7 * len(body)
    assert not any(tail[-30:])  # a hangover after the last word, then nothing


@pytest.mark.parametrize("engine", ["silero+webrtc", "silero"])
def test_silero_does_not_hear_line_noise_as_speech(engine: str) -> None:
    for level in (-40.0, -30.0, -20.0):
        assert speech_ms(detector(engine), noise(2000, level)) == 0, level


def test_the_default_ends_with_the_word_where_silero_alone_trails_it() -> None:
    # a 172 ms "yeah" after silence: Silero alone keeps saying speech ~130 ms past its end
    audio = silence(300) + said("yeah", 450) + silence(600)
    assert speech_ms(detector("silero"), audio) >= 280
    assert speech_ms(detector(), audio) <= 180


def test_webrtc_is_lighter_but_takes_loud_noise_for_speech() -> None:
    # why Silero is the default: the GMM detector cannot tell a loud hiss from a voice
    assert speech_ms(detector("webrtc"), noise(2000, -40.0)) == 0
    assert speech_ms(detector("webrtc"), noise(2000, -20.0)) >= 1800


def test_silero_hears_speech_through_noise() -> None:
    phrase = said("Who is this?")
    clean_ms = speech_ms(detector("silero"), phrase)
    # the phrase over a -35 dBFS hiss, mixed sample by sample
    voice = np.frombuffer(phrase, "<i2").astype(np.int32)
    hiss = np.frombuffer(noise(len(phrase) // 16 + 20, -35.0), "<i2").astype(np.int32)
    hissy = np.clip(voice + hiss[: voice.size], -32768, 32767).astype("<i2").tobytes()
    assert speech_ms(detector("silero"), hissy) >= 0.8 * clean_ms


def test_reset_forgets_the_stream_and_frames_of_any_cut_are_fed_in_order() -> None:
    vad = SileroDetector()
    phrase = said("Call me later.")
    first = flags(vad, phrase)
    vad.reset()
    assert flags(vad, phrase) == first  # the model's state was cleared: the same answers
    webrtc = WebRtcDetector()
    once = flags(webrtc, phrase)
    webrtc.reset()
    assert flags(webrtc, phrase) == once


def test_an_unknown_engine_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="silero, webrtc"):
        detector("energy")
