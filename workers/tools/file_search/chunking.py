"""Token-sized chunks with overlap, as OpenAI's `auto` strategy makes them (800 tokens, 400 shared with the next).

Tokens are estimated without a tokenizer (tiktoken would download its BPE tables at run time): a word counts one
token per 4 characters, at least one, which is close to cl100k on English prose and code. Chunks end on word
boundaries, so no word is ever split.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from dataclasses import dataclass

_UNIT = re.compile(r"\S+\s*")
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Chunk:
    text: str
    tokens: int


def estimate_tokens(word: str) -> int:
    return max(1, math.ceil(len(word.strip()) / CHARS_PER_TOKEN))


def chunk(text: str, max_tokens: int = 800, overlap_tokens: int = 400) -> list[Chunk]:
    """Consecutive windows of at most `max_tokens` (a single longer word is a chunk of its own), each starting
    `overlap_tokens` or fewer before the previous one's end."""
    units = _UNIT.findall(text)
    if not units:
        return []
    sizes = [estimate_tokens(u) for u in units]
    ends = list(itertools.accumulate(sizes))  # ends[i]: tokens up to and including unit i
    starts = [end - size for end, size in zip(ends, sizes, strict=True)]
    chunks: list[Chunk] = []
    first = 0
    while True:
        # The last unit that still fits in the window opened at `first`.
        last = max(first, bisect.bisect_right(ends, starts[first] + max_tokens) - 1)
        piece = "".join(units[first : last + 1]).strip()
        chunks.append(Chunk(piece, ends[last] - starts[first]))
        if last == len(units) - 1:
            return chunks
        # The next window starts at the first unit whose remaining tokens up to `last` fit in the overlap.
        following = bisect.bisect_left(starts, ends[last] - overlap_tokens)
        first = min(max(first + 1, following), last + 1)
