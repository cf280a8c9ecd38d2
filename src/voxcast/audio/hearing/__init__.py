"""Hearing the callee, offline: voice activity, end of turn, barge-in, answering-machine
detection and speech recognition on 8 kHz telephone audio (issue 15, docs/ai.md).

API (import from `voxcast.audio.hearing`):
    Ear(codec, vad=, end_silence_ms=700, barge_in_ms=250, amd=AmdSettings()|None, on_barge_in=)
        .feed(g711_payload) / .feed_pcm(pcm) -> [SpeechStarted | TurnEnded | BargedIn | AmdResult]
        .prompt(interruptible) / .prompt_over()
    detector("silero+webrtc" | "silero" | "webrtc") -> VoiceDetector (.speech(20 ms frame) -> bool)
    EndOfTurn, BargeIn, AnsweringMachineDetector: the pure state machines the Ear runs
    machine_words(transcript) -> bool: a voicemail greeting's phrases
    MachineListener(settings, codec, greeting_end=) .feed(g711) -> [AmdResult | GreetingOver]:
        a call's AMD (an Ear with AMD), then after MACHINE the greeting's end (its beep, by
        BeepDetector's Goertzel filters; else silence; else a time-out); listener() reuses
        voice detectors (.close() gives its one back)
    Recognizer (Protocol): .transcribe(pcm_8k, language=) -> str; WhisperRecognizer(model_dir),
        HttpRecognizer(base_url); recognizer_from_env(); packaged_model()
    RecognizerPool(recognizer, workers=, queue=, timeout_s=).recognize(pcm) -> Recognition
        (status "ok" | "busy" | "timeout" | "error"); "busy" comes back at once when full
    GrammarRecognizer (Protocol): .hear(pcm_8k, Grammar) -> str; SphinxRecognizer() (pocketsphinx,
        en-us); grammar_recognizer_from_env() -> SphinxRecognizer | None
    GrammarPool(recognizer, workers=, queue=4, timeout_s=5).recognize(pcm, grammar) -> Recognition
        (both pools are a BoundedPool)
"""

from voxcast.audio.hearing.amd import (
    AmdResult,
    AmdSettings,
    AnsweringMachineDetector,
    Verdict,
    machine_words,
)
from voxcast.audio.hearing.asr import (
    AsrError,
    BoundedPool,
    HttpRecognizer,
    Recognition,
    Recognizer,
    RecognizerPool,
    WhisperRecognizer,
    packaged_model,
    recognizer_from_env,
    upsample,
)
from voxcast.audio.hearing.ear import PCMA, PCMU, BargedIn, Ear, HearingEvent
from voxcast.audio.hearing.grammar import (
    GrammarPool,
    GrammarRecognizer,
    SphinxRecognizer,
    grammar_recognizer_from_env,
)
from voxcast.audio.hearing.machine import BeepDetector, MachineListener, listener
from voxcast.audio.hearing.turns import BargeIn, EndOfTurn, SpeechStarted, TurnEnded, TurnEvent
from voxcast.audio.hearing.vad import (
    FRAME_BYTES,
    FRAME_MS,
    CombinedDetector,
    SileroDetector,
    VoiceDetector,
    WebRtcDetector,
    detector,
    frames,
)
from voxcast.domain.amd import GreetingOver

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "PCMA",
    "PCMU",
    "AmdResult",
    "AmdSettings",
    "AnsweringMachineDetector",
    "AsrError",
    "BargeIn",
    "BargedIn",
    "BeepDetector",
    "BoundedPool",
    "CombinedDetector",
    "Ear",
    "EndOfTurn",
    "GrammarPool",
    "GrammarRecognizer",
    "GreetingOver",
    "HearingEvent",
    "HttpRecognizer",
    "MachineListener",
    "Recognition",
    "Recognizer",
    "RecognizerPool",
    "SileroDetector",
    "SpeechStarted",
    "SphinxRecognizer",
    "TurnEnded",
    "TurnEvent",
    "Verdict",
    "VoiceDetector",
    "WebRtcDetector",
    "WhisperRecognizer",
    "detector",
    "frames",
    "grammar_recognizer_from_env",
    "listener",
    "machine_words",
    "packaged_model",
    "recognizer_from_env",
    "upsample",
]
