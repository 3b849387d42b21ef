"""Hybrid ranking: BM25 over the index's postings, cosine over its vectors, fused by a weighted sum.

The fusion is a weighted sum of scores normalised to 0..1 (BM25 divided by the best BM25 score of the query,
cosine clipped at 0) rather than reciprocal rank fusion: the fused score keeps a meaning of its own, so
`ranking_options.score_threshold` (0..1) filters on how good a match is, not on its rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

K1 = 1.2
B = 0.75
#: Share of the vector score in the fused score when both rankers ran.
VECTOR_WEIGHT = 0.5


def bm25(
    postings: Sequence[Mapping[str, int]], lengths: Mapping[str, int], n_chunks: int, avg_length: float
) -> dict[str, float]:
    """Okapi BM25 of every chunk holding a query term; `postings[i]` maps chunk id -> frequency of term i."""
    scores: dict[str, float] = {}
    avg = avg_length or 1.0
    for posting in postings:
        df = len(posting)
        if not df:
            continue
        idf = math.log(1 + (n_chunks - df + 0.5) / (df + 0.5))
        for chunk_id, tf in posting.items():
            norm = K1 * (1 - B + B * lengths.get(chunk_id, avg) / avg)
            scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
    return scores


def cosine(query: npt.NDArray[np.float32], ids: Sequence[str], matrix: npt.NDArray[np.float32]) -> dict[str, float]:
    """Cosine similarity of the query with each row (both sides are unit vectors already)."""
    if not ids:
        return {}
    similarities = matrix @ query
    return {chunk_id: float(s) for chunk_id, s in zip(ids, similarities, strict=True)}


def fuse(lexical: Mapping[str, float], semantic: Mapping[str, float] | None) -> dict[str, float]:
    """One 0..1 score per chunk from either ranker (a chunk one ranker missed scores 0 there)."""
    best = max(lexical.values(), default=0.0)
    lexical_norm = {c: s / best for c, s in lexical.items()} if best > 0 else {}
    if semantic is None:
        return lexical_norm
    chunks = set(lexical_norm) | set(semantic)
    return {
        c: (1 - VECTOR_WEIGHT) * lexical_norm.get(c, 0.0) + VECTOR_WEIGHT * max(0.0, min(1.0, semantic.get(c, 0.0)))
        for c in chunks
    }


def top(scores: Mapping[str, float], n: int, threshold: float = 0.0) -> list[tuple[str, float]]:
    """The `n` best (ties by chunk id, so results are stable), none below `threshold` and none at 0."""
    kept = [(c, s) for c, s in scores.items() if s > 0 and s >= threshold]
    kept.sort(key=lambda item: (-item[1], item[0]))
    return kept[:n]
