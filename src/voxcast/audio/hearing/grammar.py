"""The grammar recognizer: pocketsphinx (CMU's en-us acoustic model and dictionary, shipped
inside its wheel) hears 8 kHz telephone audio against a closed question's small grammar
(`voxcast.domain.grammars`); cheap enough to take the turns the transcriber has no room for."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from voxcast.audio.hearing.asr import (
    MAX_SECONDS,
    MODEL_RATE,
    AsrError,
    BoundedPool,
    Recognition,
    to_pcm16,
    upsample,
)
from voxcast.audio.pcm import SAMPLE_RATE
from voxcast.domain.grammars import Grammar

log = logging.getLogger("voxcast.hearing")

#: the searches (compiled grammars) one decoder keeps; a script has a few per node at most
SEARCHES_KEPT = 64
#: the decoder's silence and word insertion probabilities (see SphinxRecognizer._decoder)
SILENCE_PROBABILITY, WORD_INSERTION_PROBABILITY = 0.5, 0.1
#: what pocketsphinx writes for silence and noise between words
_FILLERS = frozenset({"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"})


class GrammarRecognizer(Protocol):
    """Hears 8 kHz 16-bit mono PCM against a `Grammar` and returns the text the intent rules
    match (`Grammar.read`). Blocking: call it from a thread (see `GrammarPool`); safe to call
    from `concurrency` threads at once."""

    name: str
    concurrency: int

    def hear(self, pcm: bytes, grammar: Grammar) -> str: ...


def sphinx_model() -> tuple[Path, Path]:
    """The en-us acoustic model directory and pronouncing dictionary inside the pocketsphinx
    wheel (`voxcast[sphinx]`)."""
    try:
        import pocketsphinx
    except ImportError as err:
        raise AsrError("the grammar recognizer needs pocketsphinx: voxcast[sphinx]") from err
    hmm = Path(pocketsphinx.get_model_path("en-us/en-us"))
    dictionary = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    for needed in (hmm / "mdef", hmm / "means", dictionary):
        if not needed.is_file():
            raise AsrError(f"pocketsphinx's en-us model is incomplete: no {needed}")
    return hmm, dictionary


def jsgf(grammar: Grammar, known: set[str] | None = None) -> str | None:
    """The grammar as JSGF: its words and phrases, any of them, any number of times (a
    callee's extra words are heard as the closest of them, which `Grammar.read` sorts out).
    Words outside `known` (the dictionary) are left out, with any phrase holding one; None
    when nothing is left."""
    words = [w for w in grammar.vocabulary if known is None or w in known]
    phrases = [
        " ".join(p) for p in grammar.phrase_words() if known is None or all(w in known for w in p)
    ]
    choices = list(dict.fromkeys(words + phrases))
    if not choices:
        return None
    return (
        "#JSGF V1.0;\ngrammar answer;\n"
        "public <answer> = <choice>+;\n"
        f"<choice> = {' | '.join(choices)};\n"
    )


class SphinxRecognizer:
    """pocketsphinx on its packaged en-us model: each turn resampled to 16 kHz with PyAV (as
    the transcriber's), decoded against the grammar's finite-state search. A decoder per
    thread (pocketsphinx's are not shared), each keeping the last `SEARCHES_KEPT` grammars it
    compiled."""

    name = "pocketsphinx"

    def __init__(self, *, concurrency: int = 1) -> None:
        self.hmm, self.dictionary = sphinx_model()
        self.concurrency = concurrency
        self._local = threading.local()
        self._decoder()  # a broken model fails here, at start, not on a call

    def _decoder(self) -> Any:
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            from pocketsphinx import Decoder

            decoder = Decoder(
                hmm=str(self.hmm),
                dict=str(self.dictionary),
                lm=None,
                samprate=MODEL_RATE,
                loglevel="FATAL",
                # pauses between a callee's words (a digit string said one by one) are
                # silence, not short words: measured on the tests' phone audio, the defaults
                # (0.005, 0.65) put an "eight" or "oh" into a third of the digit strings
                silprob=SILENCE_PROBABILITY,
                wip=WORD_INSERTION_PROBABILITY,
            )
            self._local.decoder = decoder
            self._local.searches = OrderedDict()
        return decoder

    def _search(self, decoder: Any, grammar: Grammar) -> str | None:
        wanted = set(grammar.vocabulary) | {w for p in grammar.phrase_words() for w in p}
        known = {w for w in wanted if decoder.lookup_word(w) is not None}
        text = jsgf(grammar, known)
        if text is None:
            return None
        searches: OrderedDict[str, None] = self._local.searches
        key = "g" + hashlib.sha256(text.encode()).hexdigest()[:16]
        if key in searches:
            searches.move_to_end(key)
            return key
        if wanted - known:
            log.info("the grammar recognizer's dictionary lacks %s", sorted(wanted - known))
        decoder.add_jsgf_string(key, text)
        searches[key] = None
        if len(searches) > SEARCHES_KEPT:
            old, _ = searches.popitem(last=False)
            decoder.remove_search(old)
        return key

    def hear(self, pcm: bytes, grammar: Grammar) -> str:
        audio = upsample(pcm[: int(MAX_SECONDS * SAMPLE_RATE) * 2])
        decoder = self._decoder()
        search = self._search(decoder, grammar)
        if search is None or audio.size == 0:
            return ""
        decoder.activate_search(search)
        decoder.start_utt()
        decoder.process_raw(to_pcm16(audio), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        heard = [w for w in (hyp.hypstr.split() if hyp is not None else []) if w not in _FILLERS]
        return grammar.read(heard)


class GrammarPool(BoundedPool):
    """A `GrammarRecognizer` on its own small `BoundedPool`: the turns the transcriber turned
    away must not wait behind each other either."""

    def __init__(
        self,
        recognizer: GrammarRecognizer,
        *,
        workers: int | None = None,
        queue: int = 4,
        timeout_s: float = 5.0,
    ) -> None:
        self.recognizer = recognizer
        workers = workers if workers is not None else max(1, recognizer.concurrency)
        super().__init__(recognizer.name, workers=workers, queue=queue, timeout_s=timeout_s)

    async def recognize(self, pcm: bytes, grammar: Grammar) -> Recognition:
        return await self.run(functools.partial(self.recognizer.hear, pcm, grammar))


def grammar_recognizer_from_env(env: Mapping[str, str] | None = None) -> SphinxRecognizer | None:
    """The operator's grammar recognizer: VOXCAST_ASR_GRAMMAR "pocketsphinx" (the default;
    refused when pocketsphinx is not installed) or "off"; VOXCAST_ASR_GRAMMAR_WORKERS (1) at
    once. Unset and pocketsphinx missing: None, the robot degrades to keys alone."""
    env = os.environ if env is None else env
    engine = env.get("VOXCAST_ASR_GRAMMAR", "")
    if engine == "off":
        return None
    if engine not in ("", "pocketsphinx"):
        raise AsrError(f"VOXCAST_ASR_GRAMMAR={engine!r}: one of pocketsphinx, off")
    workers = int(env.get("VOXCAST_ASR_GRAMMAR_WORKERS", "") or 1)
    try:
        return SphinxRecognizer(concurrency=workers)
    except AsrError:
        if engine:
            raise
        log.warning(
            "no grammar recognizer (voxcast[sphinx]): a busy transcriber's turns go unheard"
        )
        return None


__all__ = [
    "GrammarPool",
    "GrammarRecognizer",
    "Recognition",
    "SphinxRecognizer",
    "grammar_recognizer_from_env",
    "jsgf",
    "sphinx_model",
]
