"""A file's chunks as the shared index stores them: chunk documents, BM25 postings and vectors.

The index lives in Redis beside the store (keys under its `{vs_id}` hash tag, see store/keys.py), so every
worker and API process reads the same one: a hash of chunks, one postings hash per term (chunk id -> term
frequency), each chunk's length and terms (to drop its postings when its file goes), and float32 vectors. BM25
statistics (N, average length) are read at query time, so an index never needs rebuilding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from orchestrator.store.vector_stores import Finish, IndexedChunk
from orchestrator.vector_stores.embed import Vectors, encode
from orchestrator.vector_stores.terms import frequencies
from workers.tools.file_search.chunking import Chunk


def chunk_id(file_id: str, index: int) -> str:
    # vs_file_remove.lua derives the same ids from the file's chunk count.
    return f"{file_id}#{index}"


def completed(file_id: str, filename: str, chunks: Sequence[Chunk], vectors: Vectors | None, model: str) -> Finish:
    """The finish of a file whose chunks are ready: its index entries and its usage in bytes."""
    indexed: list[IndexedChunk] = []
    postings: dict[str, list[tuple[str, int]]] = {}
    usage = 0
    for i, piece in enumerate(chunks):
        cid = chunk_id(file_id, i)
        counts = frequencies(piece.text)
        for term, tf in counts.items():
            postings.setdefault(term, []).append((cid, tf))
        vector = encode(vectors[i]) if vectors is not None else ""
        doc = json.dumps({"file_id": file_id, "filename": filename, "text": piece.text})
        indexed.append(IndexedChunk(cid, doc, " ".join([str(sum(counts.values())), *counts]), vector))
        usage += len(piece.text.encode()) + (vectors.shape[1] * 4 if vectors is not None else 0)
    return Finish(
        status="completed",
        usage_bytes=usage,
        model=model if vectors is not None else "",
        chunks=indexed,
        postings=postings,
    )


def failed(code: str, message: str) -> Finish:
    return Finish(status="failed", last_error=json.dumps({"code": code, "message": message}))
