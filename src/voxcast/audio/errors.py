"""Typed failures of the audio pipeline, each carrying the vendor code a caller is answered with."""

from __future__ import annotations

from typing import ClassVar

from voxcast.domain.codes import ApiError, Code


class AudioError(Exception):
    """Base of every audio failure; `detail` says what is wrong without naming the field."""

    code: ClassVar[Code] = Code.VALIDATION

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def api_error(self, field: str) -> ApiError:
        """The envelope error for this failure, naming the request field it came from."""
        return ApiError(self.code, f"{field}: {self.detail}")


class UnsupportedAudio(AudioError):
    """An extension or container voxcast does not decode (-22, like a bad extension)."""

    code = Code.PARAMETER


class CorruptAudio(AudioError):
    """The bytes do not decode as audio, or decode only in part (truncated) (-21)."""

    code = Code.VALIDATION


class EmptyAudio(AudioError):
    """No bytes, or a valid container with no audio samples in it (-21)."""

    code = Code.VALIDATION


class SilentAudio(AudioError):
    """Audio that decodes but holds nothing audible (-21): a callee would hear dead air."""

    code = Code.VALIDATION


class TooLongAudio(AudioError):
    """Longer than the duration limit, found from the header or while decoding (-23)."""

    code = Code.CAPS


class TtsRequired(AudioError):
    """Text or language missing where speech is asked for (-38)."""

    code = Code.TTS_REQUIRED


class TtsLanguage(AudioError):
    """A language code, accent, gender or rate no installed voice serves (-39); `field` is the
    vendor field to name (`lan`, `accent`, `ssmlGender`, `speakingRate`)."""

    code = Code.TTS_LANGUAGE

    def __init__(self, detail: str, field: str = "lan") -> None:
        super().__init__(detail)
        self.field = field


class RenderError(AudioError):
    """Speech could not be made for one text; `index` is its position in the batch."""

    code = Code.SYSTEM

    def __init__(self, detail: str, index: int = 0) -> None:
        super().__init__(detail)
        self.index = index
