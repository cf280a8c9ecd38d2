"""Audio for calls: uploads decoded to 8 kHz mono, text-to-speech, the prompt cache and the
renderer pool. Everything a call plays is 8 kHz, 16-bit signed little-endian, mono PCM.

API (import from `voxcast.audio`):

Uploads
    normalize(data: bytes, ext: str, *, max_duration_s=MAX_DURATION_S) -> DecodedAudio
        Decode wav, mp3, m4a/mp4, aac (ADTS), ogg/opus, flac or amr with PyAV; resample once to
        8 kHz mono. The extension's demuxer is tried first, then the other accepted ones (a .wav
        that is really MP3 is accepted); FFmpeg's own format probing is never used. Raises
        UnsupportedAudio (-22), EmptyAudio / CorruptAudio / SilentAudio (-21) or
        TooLongAudio (-23). MAX_DURATION_S = 600: checked on the header before decoding and
        enforced while decoding, so a small file that expands to hours is stopped at 600 s.
        Truncation is detected where the format records its length (WAV, FLAC, MP3 with an
        Xing/Info header, MP4); ADTS, Ogg and AMR carry none, so a cut file keeps what arrived.
        More than 8 channels or a rate above 192 kHz → UnsupportedAudio.
    DecodedAudio(pcm, source_format, source_codec, source_rate, source_channels)
        .duration_s, .samples, .array() (numpy int16), .wav_bytes()
    duration_of(source: bytes | Path | DecodedAudio, ext: str | None = None) -> float
        Exact seconds: raw 8 kHz PCM bytes (no ext), an encoded file's bytes (with ext), a
        WAV path from its header, or any other path by decoding.

Text-to-speech
    choose_voice(lan, accent=None, ssml_gender=None, speaking_rate=None, *, rules=()) -> Voice
        The vendor fields → a Voice (engine, engine voice id, locale, gender, rate; its
        `.address` is e.g. "piper:en_US-joe-medium"). Tried in order: `rules` (an account's
        mapping), the operator's VOXCAST_VOICES, installed catalog voices (wheels registered
        in the `voxcast.voices` entry-point group, then piper joe / festival slt for US
        English, kokoro for Japanese), espeak-ng. Missing lan → TtsRequired (-38); TtsLanguage
        (-39, `.field` names lan/accent/speakingRate) for an unknown language or accent, a
        mapped voice not installed here, Japanese without kokoro, or a rate outside the
        chosen engine's range. Table: docs/tts.md, voices.LANGUAGES.
    TtsEngine (Protocol): name, rate_range, version(), check(target), synthesize(text, Voice)
        -> Speech(pcm, sample_rate). EspeakEngine, PiperEngine (tts.py), FestivalEngine,
        KokoroEngine, OpenAIEngine (engines.py).
    speak(text, voice) -> 8 kHz PCM bytes (the one place audio is resampled); speak_with also
        returns the voice used (a remote voice's local fallback); render(text, lan, accent,
        gender, rate) -> 8 kHz PCM: choose and speak in one call.
    fill(template, fields) -> str: ${text1}..${text10} from one callee's fields.

Prompt cache and renderer pool
    PromptCache.under(rt.settings.data_dir) -> files `prompts/<2 hex>/<sha256>.wav`;
        prompt_key(text, voice, engine_version); .path(key), .has(key), .duration(key),
        .put(key, pcm), .load(key) -> DecodedAudio.
    RenderPool(cache, workers=None)   (one process per core; workers=0: one thread)
        async render_many([RenderRequest(text, voice), ...]) -> [RenderedPrompt, ...]
            same order; each distinct (text, voice) rendered once, cached ones not at all;
            RenderedPrompt(key, path, duration_s, cached). A text that cannot be spoken raises
            RenderError with `.index` of the first such item, after the rest are cached.
        async render(text, voice) -> RenderedPrompt; close() / aclose() / async with.

G.711
    g711.ulaw_encode / ulaw_decode / alaw_encode / alaw_decode (bytes → bytes), bit-exact
    with CPython's audioop.

Every AudioError has `.code` (a vendor Code) and `.api_error(field) -> ApiError`.
"""

from __future__ import annotations

from voxcast.audio import g711
from voxcast.audio.cache import PromptCache, prompt_key
from voxcast.audio.decode import EXTENSIONS, MAX_DURATION_S, duration_of, normalize
from voxcast.audio.engines import FestivalEngine, KokoroEngine, OpenAIEngine
from voxcast.audio.errors import (
    AudioError,
    CorruptAudio,
    EmptyAudio,
    RenderError,
    SilentAudio,
    TooLongAudio,
    TtsLanguage,
    TtsRequired,
    UnsupportedAudio,
)
from voxcast.audio.pcm import BYTES_PER_SECOND, SAMPLE_RATE, DecodedAudio
from voxcast.audio.render import RenderedPrompt, RenderPool, RenderRequest
from voxcast.audio.text import fill, variables_in
from voxcast.audio.tts import (
    EspeakEngine,
    PiperEngine,
    TtsEngine,
    choose_voice,
    installed_engines,
    render,
    speak,
    speak_with,
)
from voxcast.audio.voices import LANGUAGES, Gender, Voice

__all__ = [
    "BYTES_PER_SECOND",
    "EXTENSIONS",
    "LANGUAGES",
    "MAX_DURATION_S",
    "SAMPLE_RATE",
    "AudioError",
    "CorruptAudio",
    "DecodedAudio",
    "EmptyAudio",
    "EspeakEngine",
    "FestivalEngine",
    "Gender",
    "KokoroEngine",
    "OpenAIEngine",
    "PiperEngine",
    "PromptCache",
    "RenderError",
    "RenderPool",
    "RenderRequest",
    "RenderedPrompt",
    "SilentAudio",
    "TooLongAudio",
    "TtsEngine",
    "TtsLanguage",
    "TtsRequired",
    "UnsupportedAudio",
    "Voice",
    "choose_voice",
    "duration_of",
    "fill",
    "g711",
    "installed_engines",
    "normalize",
    "prompt_key",
    "render",
    "speak",
    "speak_with",
    "variables_in",
]
