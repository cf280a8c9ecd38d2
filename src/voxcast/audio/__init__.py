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
    choose_voice(lan, accent=None, ssml_gender=None, speaking_rate=None) -> Voice
        The vendor fields → a Voice (engine, engine voice id, locale, gender, rate). Missing
        lan → TtsRequired (-38); unknown lan → TtsLanguage (-39). accent is a country calling
        code (EN+91 → en-IN) or a BCP-47 tag; unknown accents get the language's default.
        ssmlGender 1 male / 2 female, default female. speakingRate clamped to 0.25-4.
        The first installed engine with a voice of that locale and gender wins: piper (if
        `voxcast[piper]` is installed), else espeak-ng. Table: docs/tts.md, voices.LANGUAGES.
    TtsEngine (Protocol): name, version(), voice_for(VoiceRequest), synthesize(text, Voice)
        EspeakEngine (libespeak-ng in-process; the espeak-ng command if the library is
        missing) and PiperEngine. speak(text, voice) -> 8 kHz PCM bytes, in this process.
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
    speak,
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
    "Gender",
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
    "speak",
    "variables_in",
]
