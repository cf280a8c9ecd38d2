"""Uploaded audio → 8 kHz mono PCM with PyAV: a fixed list of demuxers (never FFmpeg's probing,
which would also open playlists that reference other files), a duration limit checked on the
header before decoding and enforced while decoding, and typed errors for every bad input."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import av.container

from voxcast.audio.errors import (
    AudioError,
    CorruptAudio,
    EmptyAudio,
    SilentAudio,
    TooLongAudio,
    UnsupportedAudio,
)
from voxcast.audio.pcm import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    SILENCE_DBFS,
    DecodedAudio,
    Resampler,
    loudest_window_dbfs,
    wav_duration,
)

#: longest accepted upload, in seconds (10 minutes: far above any broadcast prompt, and it
#: bounds the decoded size at 9.6 MB of PCM whatever a hostile file claims)
MAX_DURATION_S = 600.0

#: the most channels and the highest sample rate an upload may have
MAX_CHANNELS = 8
MAX_SOURCE_RATE = 192_000

#: FFmpeg demuxer for each accepted extension
DEMUXERS: dict[str, str] = {
    "wav": "wav",
    "mp3": "mp3",
    "m4a": "mov",
    "mp4": "mov",
    "aac": "aac",
    "ogg": "ogg",
    "opus": "ogg",
    "oga": "ogg",
    "flac": "flac",
    "amr": "amr",
}
EXTENSIONS = tuple(DEMUXERS)
#: order in which other demuxers are tried when the extension's own one fails (a file named
#: .wav that is really MP3 is accepted): formats with a magic number first, the MP3 demuxer
#: (which resyncs on any byte pattern that looks like a frame header) last
_FALLBACK_ORDER = ("wav", "flac", "ogg", "amr", "mov", "aac", "mp3")
#: packets that fail to decode and are skipped before the whole file counts as corrupt
_MAX_BAD_PACKETS = 3
#: a header that promises this much more than decodes marks a truncated file
_TRUNCATION_SLACK_S = 0.5
_TRUNCATION_RATIO = 0.9
_FFMPEG_ERRORS = (av.FFmpegError, ValueError, EOFError, OSError, IndexError, UnicodeDecodeError)


def _extension(ext: str) -> str:
    clean = ext.lower().lstrip(".")
    if clean not in DEMUXERS:
        allowed = ", ".join("." + e for e in EXTENSIONS)
        raise UnsupportedAudio(f"extension .{clean} is not one of {allowed}")
    return clean


def _wav_declared(data: bytes) -> float | None:
    """Seconds the RIFF `data` chunk claims (FFmpeg clips it to what arrived, which would hide
    a truncated upload); None when absent or a streaming writer's placeholder size."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        if chunk == b"fmt " and size >= 12:
            byte_rate = int.from_bytes(data[offset + 16 : offset + 20], "little")
        elif chunk == b"data":
            if byte_rate <= 0 or size in (0, 0xFFFFFFFF):
                return None
            return size / byte_rate
        offset += 8 + size + (size & 1)
    return None


def _declared_duration(container: av.container.InputContainer, data: bytes) -> float | None:
    """What the header says, if it says anything; estimated durations count too (a lie only
    makes us stop earlier; decoding enforces the limit anyway)."""
    stream = container.streams.audio[0]
    found: list[float] = []
    if stream.duration is not None and stream.time_base is not None:
        found.append(float(stream.duration * stream.time_base))
    elif container.duration is not None:
        found.append(container.duration / av.time_base)
    if container.format.name == "wav":
        riff = _wav_declared(data)
        if riff is not None:
            found.append(riff)
    return max(found) if found else None


def _limit_text(seconds: float) -> str:
    return f"longer than the {seconds:g} s limit"


def _decode_with(data: bytes, ext: str, demuxer: str, max_duration_s: float) -> DecodedAudio:
    """Decode with one demuxer; CorruptAudio/EmptyAudio/TooLongAudio when it does not work."""
    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer)
    except _FFMPEG_ERRORS:
        raise CorruptAudio(f"not a readable .{ext} file") from None
    limit = int(max_duration_s * SAMPLE_RATE)
    with container:
        if not container.streams.audio:
            raise CorruptAudio(f"no audio stream in the .{ext} file")
        stream = container.streams.audio[0]
        declared = _declared_duration(container, data)
        if declared is not None and declared > max_duration_s + 0.05:
            raise TooLongAudio(f"lasts {declared:.0f} s, {_limit_text(max_duration_s)}")
        codec = stream.codec_context
        if codec is None:
            # FFmpeg found no codec for the header (a WAV with 0 bits per sample, say)
            raise CorruptAudio(f"no decoder for the audio stream of the .{ext} file")
        if not codec.sample_rate or not codec.channels:
            # a stream header with no rate or no channels is garbage, not an exotic format
            raise CorruptAudio("the audio stream declares no sample rate or channels")
        if (codec.sample_rate or 0) > MAX_SOURCE_RATE or (codec.channels or 0) > MAX_CHANNELS:
            # decoding cost per second of output grows with both: a bomb's other lever
            raise UnsupportedAudio(
                f"{codec.channels} channels at {codec.sample_rate} Hz is beyond "
                f"{MAX_CHANNELS} channels at {MAX_SOURCE_RATE} Hz"
            )
        resampler = Resampler()
        packets = bad = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                packets += 1
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    # a damaged frame or two is skipped, as players do; many means corrupt
                    bad += 1
                    if bad > _MAX_BAD_PACKETS:
                        raise
                    continue
                for frame in frames:
                    resampler.feed(frame)
                    if resampler.samples > limit:
                        # stop here: a small file may decode to hours (a "zip bomb")
                        raise _DecodedTooLong(
                            f"decodes to more than the {max_duration_s:g} s limit"
                        )
            pcm = resampler.pcm()
        except _FFMPEG_ERRORS as err:
            raise CorruptAudio(f"the audio does not decode ({type(err).__name__})") from None
        audio = DecodedAudio(
            pcm,
            source_format=str(container.format.name),
            source_codec=str(codec.name),
            source_rate=int(codec.sample_rate or 0),
            source_channels=int(codec.channels or 0),
        )
    if audio.samples > limit:
        raise _DecodedTooLong(f"decodes to more than the {max_duration_s:g} s limit")
    if audio.samples == 0:
        if packets == 0:
            raise EmptyAudio("no audio data in the file")
        raise CorruptAudio("no audio decodes from the file")
    if (
        declared is not None
        and declared - audio.duration_s > _TRUNCATION_SLACK_S
        and audio.duration_s < declared * _TRUNCATION_RATIO
    ):
        raise CorruptAudio(
            f"truncated: the header says {declared:.1f} s but only {audio.duration_s:.1f} s decodes"
        )
    return audio


class _DecodedTooLong(TooLongAudio):
    """Too long as measured by decoding (final), as opposed to a header's claim."""


def normalize(data: bytes, ext: str, *, max_duration_s: float = MAX_DURATION_S) -> DecodedAudio:
    """Decode an upload named `*.ext` to 8 kHz 16-bit mono PCM, resampling once.

    The extension's demuxer is tried first; if it cannot decode the bytes, the other accepted
    ones are (first clean decode wins; else the extension's own error is raised).
    Raises UnsupportedAudio, EmptyAudio, CorruptAudio, TooLongAudio or SilentAudio; never
    decodes more than `max_duration_s` seconds, whatever the file claims.
    """
    clean = _extension(ext)
    if not data:
        raise EmptyAudio("the file is empty")
    own = DEMUXERS[clean]
    first_error: AudioError | None = None
    audio: DecodedAudio | None = None
    for demuxer in (own, *(d for d in _FALLBACK_ORDER if d != own)):
        try:
            audio = _decode_with(data, clean, demuxer, max_duration_s)
            break
        except _DecodedTooLong:
            raise
        except TooLongAudio as err:
            if demuxer == own:
                raise
            # another demuxer misreading the bytes may estimate any length: not a verdict
            first_error = first_error or err
        except (CorruptAudio, EmptyAudio) as err:
            if demuxer == own:
                first_error = err
    if audio is None:
        raise first_error or CorruptAudio(f"not a readable .{clean} file")
    if loudest_window_dbfs(audio.array()) < SILENCE_DBFS:
        raise SilentAudio(f"silent only (no 20 ms stretch louder than {SILENCE_DBFS:g} dBFS)")
    return audio


def duration_of(source: bytes | Path | DecodedAudio, ext: str | None = None) -> float:
    """Seconds of audio in `source`.

    - `DecodedAudio`: its exact length.
    - `bytes` with no `ext`: raw 8 kHz 16-bit mono PCM.
    - `bytes` with `ext`: an encoded file, decoded as `normalize` would (exact, and it raises
      the same errors).
    - `Path`: a `.wav` voxcast wrote is read from its header; any other file is decoded.
    """
    if isinstance(source, DecodedAudio):
        return source.duration_s
    if isinstance(source, Path):
        suffix = ext or source.suffix
        if suffix.lower().lstrip(".") == "wav":
            try:
                return wav_duration(source)
            except (EOFError, ValueError, OSError, wave.Error):
                pass
        return normalize(source.read_bytes(), suffix).duration_s
    if ext is None:
        return len(source) / BYTES_PER_SECOND
    return normalize(source, ext).duration_s
