"""The terms BM25 indexes and queries: lower-cased words, English stop words dropped, a plural `s` folded.

The same function serves ingestion and queries, so a query term always names the postings a chunk wrote.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+")
#: Longest term kept: longer "words" are hashes or base64, never queried, and would only bloat postings.
MAX_TERM_CHARS = 40
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _fold(word: str) -> str:
    # "documents" and "document" meet; "class" and "analysis" keep their s.
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The text's terms in order, repeats kept (term frequencies come from them)."""
    words = (w.lower() for w in _WORD.findall(text))
    return [_fold(w) for w in words if w not in STOP_WORDS and len(w) <= MAX_TERM_CHARS]


def frequencies(text: str) -> Counter[str]:
    return Counter(terms(text))
