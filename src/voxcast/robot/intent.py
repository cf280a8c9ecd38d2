"""What a callee means, by rules (pure, no I/O): a script's keywords first, then fuzzy similarity
to its example phrases (rapidfuzz). The optional LLM step is `voxcast.robot.llm`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from voxcast.domain.scripts import Intent

__all__ = ["FUZZY_THRESHOLD", "How", "Match", "match_intent", "normalize", "similarity"]

#: the lowest similarity (0-100, see `similarity`) an example phrase must reach
FUZZY_THRESHOLD = 80.0
#: the shorter of utterance and phrase must be this share of the longer for word-set
#: similarity to count: it scores a word set inside another as 100 ("me" in "yes this is me")
SET_LENGTH_SHARE = 0.6
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_NOT_WORD = re.compile(r"[^\w']+")
#: letters that separate words with spaces; CJK keywords match anywhere in the text
_LATIN = "0-9A-Za-z\u00c0-\u024f'"


class How(StrEnum):
    KEYWORD = "keyword"
    FUZZY = "fuzzy"
    LLM = "llm"


@dataclass(frozen=True)
class Match:
    """The intent recognised, how, and what gave it away (the keyword or example phrase)."""

    intent: str
    how: How
    score: float
    evidence: str


def normalize(text: str) -> str:
    """Case-folded, NFKC, punctuation as spaces, one space between words."""
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    word = normalize(keyword)
    if not word:
        return None
    head = f"(?<![{_LATIN}])" if re.match(f"[{_LATIN}]", word[0]) else ""
    tail = f"(?![{_LATIN}])" if re.match(f"[{_LATIN}]", word[-1]) else ""
    return re.compile(head + re.escape(word) + tail)


def _by_keyword(text: str, candidates: Mapping[str, Intent]) -> Match | None:
    # the longest keyword heard wins ("no, stop calling me" is an opt-out, not a "no");
    # on a tie, the earlier candidate (a node's own branches come before the global intents)
    best: Match | None = None
    for name, intent in candidates.items():
        for keyword in intent.keywords:
            pattern = _keyword_pattern(keyword)
            if pattern is None or not pattern.search(text):
                continue
            length = len(normalize(keyword))
            if best is None or length > len(best.evidence):
                best = Match(name, How.KEYWORD, 100.0, normalize(keyword))
    return best


def similarity(text: str, phrase: str) -> float:
    """0-100: the best of edit-distance similarity with the words as said and sorted, and of
    word-set similarity ("call me later" is "can you call me later") when the lengths are near.
    rapidfuzz's WRatio is not used: it rates any long sentence sharing a few words at 85.5."""
    score = max(fuzz.ratio(text, phrase), fuzz.token_sort_ratio(text, phrase))
    if min(len(text), len(phrase)) >= SET_LENGTH_SHARE * max(len(text), len(phrase)):
        score = max(score, fuzz.token_set_ratio(text, phrase))
    return score


def _by_example(text: str, candidates: Mapping[str, Intent], threshold: float) -> Match | None:
    best: Match | None = None
    for name, intent in candidates.items():
        for example in intent.examples:
            phrase = normalize(example)
            if not phrase:
                continue
            score = similarity(text, phrase)
            if score >= threshold and (best is None or score > best.score):
                best = Match(name, How.FUZZY, score, phrase)
    return best


def match_intent(
    utterance: str, candidates: Mapping[str, Intent], *, threshold: float = FUZZY_THRESHOLD
) -> Match | None:
    """The intent among `candidates` (name → intent, in priority order) that `utterance`
    expresses by keyword, else by similarity to an example phrase; None when neither finds one."""
    text = normalize(utterance)
    if not text:
        return None
    return _by_keyword(text, candidates) or _by_example(text, candidates, threshold)
