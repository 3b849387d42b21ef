"""Ingestion of one file of a vector store: read, parse, chunk, embed, then index and finish in one atomic step.

Safe to run twice (a redelivered task): it does nothing unless the file is still `in_progress`, and the final
write checks that again, so a file removed or cancelled meanwhile is left alone.
"""

from __future__ import annotations

import json

import structlog

from orchestrator.errors import NotFound
from orchestrator.files.service import get_file, read_content
from orchestrator.files.storage import Storage
from orchestrator.store import RedisStore
from orchestrator.store.vector_stores import Finish, VectorStoreStore
from orchestrator.vector_stores.embed import Embedder, Vectors
from orchestrator.vector_stores.requests import AUTO_CHUNK_TOKENS, AUTO_OVERLAP_TOKENS
from workers.tools.file_search import index
from workers.tools.file_search.chunking import Chunk, chunk
from workers.tools.file_search.parse import Unparseable, extract_text

log = structlog.get_logger(__name__)


def ingest(
    store: RedisStore, storage: Storage, project: str, vs_id: str, file_id: str, embedder: Embedder | None
) -> str:
    """'completed', 'failed', or 'skipped' (not in progress: removed, cancelled or done already)."""
    repo = VectorStoreStore(store)
    entry = repo.get_file(project, vs_id, file_id)
    if entry is None or entry.get("status") != "in_progress":
        return "skipped"
    finish = _prepare(store, storage, project, file_id, json.loads(entry.get("chunking") or "{}"), embedder)
    if not repo.finish_file(project, vs_id, file_id, finish):
        return "skipped"
    log.info("vector_store.file_ingested", status=finish.status, chunks=len(finish.chunks))
    return finish.status


def _prepare(
    store: RedisStore,
    storage: Storage,
    project: str,
    file_id: str,
    strategy: dict[str, dict[str, int]],
    embedder: Embedder | None,
) -> Finish:
    static = strategy.get("static") or {}
    try:
        file = get_file(store, project, file_id)
        data = read_content(store, storage, project, file_id)
    except NotFound:
        return index.failed("invalid_file", f"The file {file_id} was deleted before it could be indexed.")
    try:
        text = extract_text(file.filename, data)
    except Unparseable as exc:
        return index.failed(exc.code, exc.message)
    chunks = chunk(
        text,
        static.get("max_chunk_size_tokens", AUTO_CHUNK_TOKENS),
        static.get("chunk_overlap_tokens", AUTO_OVERLAP_TOKENS),
    )
    vectors = _embedded(chunks, embedder)
    return index.completed(file_id, file.filename, chunks, vectors, embedder.name if embedder else "")


def _embedded(chunks: list[Chunk], embedder: Embedder | None) -> Vectors | None:
    if embedder is None or not chunks:
        return None
    try:
        return embedder.embed([c.text for c in chunks])
    except Exception as exc:  # the upstream's failure costs this file its vectors, not its text
        log.warning("vector_store.embedding_failed", error=str(exc)[:300])
        return None
