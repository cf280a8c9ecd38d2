"""Call recordings as WAV files: each side's audio laid on a timeline from the answer, and the
two files a recorded call leaves (both sides in stereo, the callee's alone in mono), at once or
written as the call goes (`LiveRecording`)."""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxcast.audio.pcm import SAMPLE_RATE, wav_bytes

#: the file names of one recording: `<id>-full.wav` (stereo) and `<id>-customer.wav`
FULL, CUSTOMER = "-full.wav", "-customer.wav"


def timeline(seconds: float, pieces: Iterable[tuple[float, bytes]]) -> bytes:
    """`seconds` of 8 kHz 16-bit mono PCM, silent but for each piece (start second, PCM)
    placed at its start; what runs past the end is cut, overlaps add (clipped)."""
    total = max(0, round(seconds * SAMPLE_RATE))
    out = np.zeros(total, dtype=np.int32)
    for start, pcm in pieces:
        first = max(0, round(start * SAMPLE_RATE))
        if first >= total or not pcm:
            continue
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")[: total - first]
        out[first : first + len(samples)] += samples
    return bytes(np.clip(out, -32768, 32767).astype("<i2").tobytes())


def stereo_wav(left: bytes, right: bytes) -> bytes:
    """A 16-bit stereo WAV of two mono PCM tracks (the shorter padded with silence)."""
    a = np.frombuffer(left[: len(left) // 2 * 2], dtype="<i2")
    b = np.frombuffer(right[: len(right) // 2 * 2], dtype="<i2")
    frames = np.zeros((max(len(a), len(b)), 2), dtype="<i2")
    frames[: len(a), 0] = a
    frames[: len(b), 1] = b
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(frames.tobytes())
    return out.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` as `folder/name` atomically (the file is served as soon as it exists)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def save(folder: Path, call_id: str, sent: bytes | None, heard: bytes) -> tuple[Path | None, Path]:
    """A recorded call's files: with `sent` (our side, aligned with `heard`) the stereo one,
    and the callee's alone; PCM in, paths out."""
    full = write(folder, call_id + FULL, stereo_wav(sent, heard)) if sent is not None else None
    return full, write(folder, call_id + CUSTOMER, wav_bytes(heard))


#: how far back a live recording can still place audio (a late packet's), and so how much of
#: each side it holds in memory; what is older is on disk
WINDOW_S = 1.0
#: a packet whose RTP timestamp and arrival disagree by more than this with its stream's
#: mapping starts a new one (a sender's new talkspurt or restart, not jitter)
REANCHOR_S = 0.2
#: every so many packets a stream's mapping moves to the earliest of their arrivals when all
#: came more than `DRIFT_S` late by it: drift between the sender's clock and ours, or a path
#: grown slower, does not pile up (and jitter does not nudge the audio about)
DRIFT_PACKETS = 50
DRIFT_S = 0.01
#: a packet earlier than its stream's mapping by less than this does not move it (no audio
#: shifted by a sample or two, overlapping itself, for an arrival a hair early)
EARLY_S = 0.001
#: far-end streams (SSRCs) whose mappings are kept
SOURCES = 8
#: a packet later than its stream's mapping by more than `REANCHOR_S` is held until packets
#: arriving this long after it tell why: back on the mapping, or catching up on it (read in a
#: burst after our process stalled, or after a network hold-up), it was only late and goes
#: where its timestamp says; late by about as much again, the stream really moved
JUDGE_S = 0.05
#: ...caught up by more than this since the first held packet: a burst, not a move
CATCHING_UP_S = 0.04
#: at most this many packets are held (2 s of 20 ms frames); more are judged only late
HELD = 100


@dataclass
class _Source:
    """One far-end stream: its RTP timestamps unwrapped, and where they sit on our clock."""

    last: int  # the newest packet's 32-bit timestamp
    unwrapped: int  # ...and as a count that does not wrap
    offset: float  # our sample position minus the unwrapped timestamp (earliest arrival)
    lowest: float = math.inf  # the least offset of the packets since the last drift check
    packets: int = 0
    #: late packets waiting to be judged: (unwrapped timestamp, offset, PCM), their sum the
    #: arrival; `caught_up`: the held ones came faster than they were sent
    held: list[tuple[int, float, bytes]] = field(default_factory=list)
    caught_up: bool = False


class LiveRecording:
    """One call's recording from the answer (`origin`, in seconds of the caller's monotonic
    clock), written to disk as the call goes: `sent` lays each frame we sent on the left at the
    time it was due, `heard` lays the far end's packets on the right by their RTP timestamps,
    mapped onto our clock by the earliest arrivals (jitter and reordering do not move them, a
    lost packet leaves its 20 ms silent and what follows in place) and appends them to the
    callee's mono file in arrival order. It holds at most twice `WINDOW_S` of each side in
    memory (64 KB), whatever the call's length; at most `max_seconds` are kept. `finish`
    gives the files their names (`<name>-full.wav`, `<name>-customer.wav`): they appear
    whole or not at all."""

    def __init__(
        self,
        folder: Path,
        name: str,
        decode: Callable[[bytes], bytes],
        origin: float,
        max_seconds: float,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.full = folder / (name + FULL)
        self.customer = folder / (name + CUSTOMER)
        self._decode = decode
        self._origin = origin
        self._limit = max(0, round(max_seconds * SAMPLE_RATE))
        self._window = round(WINDOW_S * SAMPLE_RATE)
        # samples [flushed, flushed + 2 windows) of both sides; those before are on disk
        self._buffer = np.zeros((2 * self._window, 2), dtype="<i2")
        self._flushed = 0
        self._end = 0  # the end of the latest audio placed
        self._heard = 0  # samples in the callee's file
        self._sources: dict[tuple[int, int], _Source] = {}
        #: why the files could not be written: nothing more is, and `finish` raises it
        self.failure: OSError | None = None
        self._temps: list[Path] = []
        try:
            self._stereo = self._open(folder, 2)
            self._mono = self._open(folder, 1)
        except OSError:
            for temp in self._temps:
                temp.unlink(missing_ok=True)
            raise

    def _open(self, folder: Path, channels: int) -> wave.Wave_write:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".wav")
        os.close(fd)
        self._temps.append(Path(name))
        out = wave.open(name, "wb")  # noqa: SIM115 - open for the call's length, closed in finish
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        return out

    def _position(self, at: float) -> float:
        return (at - self._origin) * SAMPLE_RATE

    def sent(self, at: float, payload: bytes) -> None:
        """A frame of ours (G.711) that went out, due at `at`."""
        if self.failure is None:
            try:
                self._place(0, round(self._position(at)), self._decode(payload))
            except OSError as err:
                self._fail(err)

    def relayed(self, at: float, ssrc: int, timestamp: int, payload: bytes) -> None:
        """A packet of a bridged party's stream (G.711) relayed to the far end at `at`: on the
        left, placed by its RTP timestamp as the far end's are on the right."""
        if self.failure is None:
            try:
                self._arrived((0, ssrc), self._position(at), timestamp, self._decode(payload))
            except OSError as err:
                self._fail(err)

    def heard(
        self, at: float, ssrc: int, timestamp: int, payload: bytes, *, ours: bool = False
    ) -> None:
        """A far-end audio packet (G.711) that arrived at `at`. `ours`: a packet of our own
        stream coming back (a far end that echoes), kept in the callee's file as received
        but not laid on the right, which is the far end's voice."""
        if self.failure is not None:
            return
        pcm = self._decode(payload)
        try:
            room = self._limit - self._heard
            if room > 0:
                kept = pcm[: 2 * room]
                self._mono.writeframesraw(kept)
                self._heard += len(kept) // 2
            if not ours:
                self._arrived((1, ssrc), self._position(at), timestamp, pcm)
        except OSError as err:
            self._fail(err)

    def _fail(self, err: OSError) -> None:
        """The disk refused (full, gone): the call goes on unrecorded, `finish` says why."""
        self.failure = err
        self.discard()

    def _arrived(self, stream: tuple[int, int], arrival: float, timestamp: int, pcm: bytes) -> None:
        """Lay a packet of `stream` (channel, SSRC) by its timestamp on the stream's mapping
        to our clock, or hold it while its lateness is judged (`JUDGE_S`)."""
        channel = stream[0]
        source = self._sources.get(stream)
        if source is None:
            if len(self._sources) >= SOURCES:
                del self._sources[next(iter(self._sources))]
            self._sources[stream] = _Source(timestamp, timestamp, arrival - timestamp)
            self._place(channel, round(arrival), pcm)
            return
        step = ((timestamp - source.last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        unwrapped = source.unwrapped + step
        if step > 0:
            source.last, source.unwrapped = timestamp, unwrapped
        offset = arrival - unwrapped
        late = offset - source.offset > REANCHOR_S * SAMPLE_RATE
        if source.held:
            first_unwrapped, first_offset, _ = source.held[0]
            if late and offset < first_offset - CATCHING_UP_S * SAMPLE_RATE:
                source.caught_up = True
            judged = arrival - (first_unwrapped + first_offset) >= JUDGE_S * SAMPLE_RATE
            if late and not judged and len(source.held) < HELD:
                source.held.append((unwrapped, offset, pcm))
                return
            moved = late and judged and not source.caught_up
            self._release(channel, source, moved=moved)
            if moved:  # this packet is on the new mapping
                self._place(channel, round(unwrapped + source.offset), pcm)
                return
        if late:  # held, and judged by what comes next
            source.held, source.caught_up = [(unwrapped, offset, pcm)], False
            return
        if offset < source.offset - REANCHOR_S * SAMPLE_RATE:  # early: the mapping was late
            source.offset, source.lowest, source.packets = offset, math.inf, 0
        else:
            if offset < source.offset - EARLY_S * SAMPLE_RATE:
                source.offset = offset
            source.lowest = min(source.lowest, offset)
            source.packets += 1
            if source.packets >= DRIFT_PACKETS:
                if source.lowest - source.offset > DRIFT_S * SAMPLE_RATE:
                    source.offset = source.lowest
                source.lowest, source.packets = math.inf, 0
        self._place(channel, round(unwrapped + source.offset), pcm)

    def _release(self, channel: int, source: _Source, *, moved: bool) -> None:
        """Lay the held packets: on a new mapping, their earliest arrival, when the stream
        `moved`; else where their timestamps put them on the mapping they were late for."""
        if moved:
            source.offset = min(offset for _, offset, _ in source.held)
            source.lowest, source.packets = math.inf, 0
        held, source.held = source.held, []
        for unwrapped, _, pcm in held:
            self._place(channel, round(unwrapped + source.offset), pcm)

    def _place(self, channel: int, start: int, pcm: bytes) -> None:
        data = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        end = min(start + len(data), self._limit)
        if end - self._flushed > len(self._buffer):
            self._flush(end - self._window)
        if start < self._flushed:  # too late: its place is on disk already
            data = data[self._flushed - start :]
            start = self._flushed
        if end <= start:
            return
        self._buffer[start - self._flushed : end - self._flushed, channel] = data[: end - start]
        self._end = max(self._end, end)

    def _flush(self, upto: int) -> None:
        """Write both sides up to sample `upto` to disk (silence where nothing was placed)."""
        size = len(self._buffer)
        count = upto - self._flushed
        if count <= 0:
            return
        head = min(count, size)
        self._stereo.writeframesraw(self._buffer[:head].tobytes())
        rest = count - head
        while rest > 0:  # a jump of more than the buffer: silence
            chunk = min(rest, size)
            self._stereo.writeframesraw(bytes(4 * chunk))
            rest -= chunk
        self._buffer[: size - head] = self._buffer[head:]
        self._buffer[size - head :] = 0
        self._flushed = upto

    def finish(self, at: float) -> tuple[Path, Path]:
        """The call is over at `at`: both files written out under their names."""
        if self.failure is not None:
            raise self.failure
        try:
            for (channel, _), source in self._sources.items():
                self._release(channel, source, moved=False)  # the call ended before a verdict
            end = min(self._limit, max(self._end, round(self._position(at))))
            self._flush(max(end, self._flushed))
            self._stereo.close()
            self._mono.close()
            stereo, mono = self._temps
            os.replace(stereo, self.full)
            os.replace(mono, self.customer)
        except BaseException:
            self.discard()
            raise
        return self.full, self.customer

    def discard(self) -> None:
        """Give up: nothing is written, the temporary files go."""
        for out in (self._stereo, self._mono):
            with contextlib.suppress(OSError):
                out.close()
        for temp in self._temps:
            temp.unlink(missing_ok=True)
