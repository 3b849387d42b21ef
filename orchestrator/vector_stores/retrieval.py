"""Search over the shared index: BM25 on the postings in Redis, cosine on the stored vectors, fused (rank.py).

Used by `POST /v1/vector_stores/{id}/search` and, through workers/tools/file_search/search.py, by the file_search
tool, so both rank alike. It lives here rather than in the workers package because the API may not import that.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.domain.models import JSON
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore
from orchestrator.store.vector_stores import VectorStoreStore
from orchestrator.vector_stores import rank
from orchestrator.vector_stores.embed import Embedder, Vectors, decode_all
from orchestrator.vector_stores.terms import terms

#: Chunks the vector ranker adds to BM25's candidates, per result asked for.
VECTOR_CANDIDATES_PER_RESULT = 3


@dataclass(frozen=True)
class SearchResult:
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict[str, Any] | None = None

    def wire(self, include_content: bool) -> JSON:
        """The file_search tool call's result object (content only when `include[]` asks for it)."""
        result: JSON = {"file_id": self.file_id, "file_name": self.filename, "score": round(self.score, 6)}
        if include_content:
            result["content"] = [{"type": "text", "text": self.text}]
        return result

    def search_result(self) -> JSON:
        """One entry of `POST /vector_stores/{id}/search`'s page."""
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "score": round(self.score, 6),
            "attributes": self.attributes or {},
            "content": [{"type": "text", "text": self.text}],
        }


@dataclass(frozen=True)
class _Scored:
    vs_id: str
    chunk_id: str
    score: float


def search(
    store: RedisStore,
    project: str,
    vector_store_ids: list[str],
    query: str,
    *,
    max_num_results: int = 20,
    ranking_options: dict[str, Any] | None = None,
    embedder: Embedder | None = None,
) -> list[SearchResult]:
    """The best chunks of the stores for `query`, best first."""
    repo = VectorStoreStore(store)
    threshold = float((ranking_options or {}).get("score_threshold") or 0.0)
    query_terms = list(dict.fromkeys(terms(query)))
    query_vector = embedder.embed([query])[0] if embedder is not None else None
    lexical: dict[tuple[str, str], float] = {}
    semantic: dict[tuple[str, str], float] | None = {} if query_vector is not None else None
    for vs_id in dict.fromkeys(vector_store_ids):
        stats = repo.stats(project, vs_id)
        n_chunks = int(stats.get("chunks") or 0)
        if n_chunks <= 0:
            continue
        scores = _lexical(repo, project, vs_id, query_terms, n_chunks, int(stats.get("tokens") or 0))
        lexical.update({(vs_id, c): s for c, s in scores.items()})
        if semantic is not None and query_vector is not None and embedder is not None:
            if stats.get("model") == embedder.name:
                wanted = max_num_results * VECTOR_CANDIDATES_PER_RESULT
                generation = int(stats.get("generation") or 0)
                near = _semantic(repo, project, vs_id, generation, query_vector, wanted)
                semantic.update({(vs_id, c): s for c, s in near.items()})
            else:
                semantic = None  # a store embedded by another model: rank every store alike, by BM25
        repo.touch(project, vs_id, now_s())
    fused = rank.fuse(
        {f"{v}\n{c}": s for (v, c), s in lexical.items()},
        {f"{v}\n{c}": s for (v, c), s in semantic.items()} if semantic is not None else None,
    )
    best = []
    for key, score in rank.top(fused, max_num_results, threshold):
        vs_id, chunk_id = key.split("\n", 1)
        best.append(_Scored(vs_id, chunk_id, score))
    return _results(repo, project, best)


def _lexical(
    repo: VectorStoreStore, project: str, vs_id: str, query_terms: Sequence[str], n_chunks: int, tokens: int
) -> dict[str, float]:
    if not query_terms:
        return {}
    postings = repo.postings(project, vs_id, query_terms)
    candidates = sorted({c for posting in postings for c in posting})
    lengths = repo.chunk_lengths(project, vs_id, candidates)
    return rank.bm25(postings, lengths, n_chunks, tokens / n_chunks)


def _semantic(
    repo: VectorStoreStore, project: str, vs_id: str, generation: int, query: Vectors, wanted: int
) -> dict[str, float]:
    ids, matrix = _vectors(repo, project, vs_id, generation)
    if not ids or matrix.shape[1] != query.shape[0]:
        return {}
    scores = rank.cosine(query, ids, matrix)
    return dict(rank.top(scores, wanted))


#: (project, store) -> (generation, chunk ids, vectors): the decoded vectors of the stores searched lately, so a
#: query reads them from Redis only when the index changed. Bounded: the least recently used go first.
_vector_cache: OrderedDict[tuple[str, str], tuple[int, list[str], Vectors]] = OrderedDict()
_cache_lock = threading.Lock()
VECTOR_CACHE_STORES = 32


def _vectors(repo: VectorStoreStore, project: str, vs_id: str, generation: int) -> tuple[list[str], Vectors]:
    key = (project, vs_id)
    with _cache_lock:
        cached = _vector_cache.get(key)
        if cached is not None and cached[0] == generation:
            _vector_cache.move_to_end(key)
            return cached[1], cached[2]
    stored = repo.embeddings(project, vs_id)
    ids = list(stored)
    matrix = decode_all([stored[i] for i in ids])
    with _cache_lock:
        _vector_cache[key] = (generation, ids, matrix)
        _vector_cache.move_to_end(key)
        while len(_vector_cache) > VECTOR_CACHE_STORES:
            _vector_cache.popitem(last=False)
    return ids, matrix


def _results(repo: VectorStoreStore, project: str, best: Sequence[_Scored]) -> list[SearchResult]:
    by_store: dict[str, list[str]] = {}
    for item in best:
        by_store.setdefault(item.vs_id, []).append(item.chunk_id)
    docs: dict[tuple[str, str], JSON] = {}
    attributes: dict[tuple[str, str], dict[str, Any] | None] = {}
    for vs_id, chunk_ids in by_store.items():
        for chunk_id, raw in repo.chunks(project, vs_id, chunk_ids).items():
            docs[(vs_id, chunk_id)] = json.loads(raw)
        file_ids = sorted({c.rsplit("#", 1)[0] for c in chunk_ids})
        for file_id, file in repo.get_files(project, vs_id, file_ids):
            attributes[(vs_id, file_id)] = json.loads(file["attributes"]) if file.get("attributes") else None
    results = []
    for item in best:
        doc = docs.get((item.vs_id, item.chunk_id))
        if doc is None:  # its file left the store since the postings were read
            continue
        results.append(
            SearchResult(
                file_id=doc["file_id"],
                filename=doc["filename"],
                score=item.score,
                text=doc["text"],
                attributes=attributes.get((item.vs_id, doc["file_id"])),
            )
        )
    return results
