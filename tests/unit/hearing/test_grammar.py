"""The grammar recognizer's parts: its JSGF (words the dictionary lacks left out), the operator's
setting, and its own bounded pool answering "busy" at once when full."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from voxcast.audio.hearing.asr import AsrError
from voxcast.audio.hearing.grammar import (
    GrammarPool,
    SphinxRecognizer,
    grammar_recognizer_from_env,
    jsgf,
)
from voxcast.domain import grammars as gr


def test_the_jsgf_loops_over_the_words_and_phrases_the_dictionary_has() -> None:
    grammar = gr.Grammar(gr.PHRASES, ("pay now", "pay zorblax", "later", "£5"))
    text = jsgf(grammar, {"pay", "now", "later"})
    assert text is not None
    assert "public <answer> = <choice>+;" in text
    assert "<choice> = pay now | later;" in text
    assert jsgf(gr.Grammar(gr.PHRASES, ("zorblax",)), {"pay"}) is None
    yesno = jsgf(gr.Grammar(gr.YESNO))
    assert yesno is not None and "yes | yeah" in yesno and "| no |" in yesno


def test_the_operators_setting() -> None:
    assert grammar_recognizer_from_env({"VOXCAST_ASR_GRAMMAR": "off"}) is None
    with pytest.raises(AsrError, match="one of pocketsphinx, off"):
        grammar_recognizer_from_env({"VOXCAST_ASR_GRAMMAR": "julius"})
    found = grammar_recognizer_from_env({"VOXCAST_ASR_GRAMMAR_WORKERS": "2"})
    assert isinstance(found, SphinxRecognizer) and found.concurrency == 2
    assert found.hmm.name == "en-us" and found.dictionary.is_file()


class Blocking:
    name = "blocking"
    concurrency = 1

    def __init__(self) -> None:
        self.release = threading.Event()

    def hear(self, pcm: bytes, grammar: gr.Grammar) -> str:
        self.release.wait(10)
        return "yes"


async def test_the_pool_answers_busy_at_once_when_full_and_times_out() -> None:
    engine = Blocking()
    pool = GrammarPool(engine, queue=1, timeout_s=5.0)
    grammar = gr.Grammar(gr.YESNO)
    first = asyncio.ensure_future(pool.recognize(b"", grammar))
    second = asyncio.ensure_future(pool.recognize(b"", grammar))
    await asyncio.sleep(0)
    started = time.perf_counter()
    third = await pool.recognize(b"", grammar)
    assert third.status == "busy" and third.engine == "blocking"
    assert time.perf_counter() - started < 0.05 and pool.busy == 1
    engine.release.set()
    assert [r.text for r in await asyncio.gather(first, second)] == ["yes", "yes"]
    pool.close()

    slow = Blocking()
    pool = GrammarPool(slow, timeout_s=0.1)
    late = await pool.recognize(b"", grammar)
    assert late.status == "timeout"
    slow.release.set()
    pool.close()
