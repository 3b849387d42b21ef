"""`VectorStoreStore`: the Redis commands for vector stores, their files and batches, and the shared search index.

Every status change of a store's file is one Lua script that also moves the store's counters, so a store's
`file_counts` and `status` are right at every moment. A batch's counts are derived from its files' statuses when
read (a batch holds at most 2,000 files), so they can never drift either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis
from redis.commands.core import Script

from orchestrator.store import slots
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import Page, RedisStore, _str
from orchestrator.store.scripts import source

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class IndexedChunk:
    """One chunk as the index keeps it."""

    chunk_id: str
    doc: str  # JSON: file id, filename, text
    terms: str  # 'length term term ...'
    vector: str  # base64 float32, '' when there is none


@dataclass(frozen=True)
class Finish:
    """How a file's ingestion ended, and what it adds to the index."""

    status: str
    usage_bytes: int = 0
    last_error: str = ""  # JSON
    model: str = ""
    chunks: Sequence[IndexedChunk] = ()
    postings: dict[str, list[tuple[str, int]]] | None = None  # term -> [(chunk id, term frequency)]


class VectorStoreStore:
    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.client: redis.Redis = store.client
        self.keys: Keys = store.keys
        self._add: Script = self.client.register_script(source("vs_file_add"))
        self._finish: Script = self.client.register_script(source("vs_file_finish"))
        self._remove: Script = self.client.register_script(source("vs_file_remove"))
        self._touch: Script = self.client.register_script(source("vs_touch"))

    # -- stores ----------------------------------------------------------------------------------------------

    def create(self, project: str, vs_id: str, doc: str, now: int) -> None:
        # The store's hash, then the project's index (another slot on a cluster: see store/slots.py).
        pipe = slots.pipeline(self.client, [self.keys.vector_store(project, vs_id), self.keys.vector_stores(project)])
        fields: dict[str, str | int] = {"doc": doc, "last_active_at": now, "total": 0, "usage_bytes": 0}
        fields.update(dict.fromkeys(FILE_STATUSES, 0))
        pipe.hset(self.keys.vector_store(project, vs_id), mapping=fields)  # type: ignore[arg-type]
        pipe.zadd(self.keys.vector_stores(project), {vs_id: 0})
        pipe.execute()

    def get(self, project: str, vs_id: str) -> dict[str, str] | None:
        raw = self.client.hgetall(self.keys.vector_store(project, vs_id))
        return {_str(k): _str(v) for k, v in raw.items()} if raw else None

    def get_many(self, project: str, ids: Sequence[str]) -> list[dict[str, str]]:
        pipe = self.client.pipeline(transaction=False)
        for vs_id in ids:
            pipe.hgetall(self.keys.vector_store(project, vs_id))
        return [{_str(k): _str(v) for k, v in raw.items()} for raw in pipe.execute() if raw]

    def set_doc(self, project: str, vs_id: str, doc: str) -> bool:
        """Replace the store's given fields; False when the store is gone (its counters are never touched here)."""
        return self._set_if_exists(self.keys.vector_store(project, vs_id), "doc", doc)

    def set_file_attributes(self, project: str, vs_id: str, file_id: str, attributes: str) -> bool:
        return self._set_if_exists(self.keys.vs_file(project, vs_id, file_id), "attributes", attributes)

    def _set_if_exists(self, key: str, field: str, value: str) -> bool:
        """Set one field of a hash that exists (WATCH/MULTI: a concurrent delete must not leave a stray field)."""
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    if not pipe.exists(key):
                        return False
                    pipe.multi()
                    pipe.hset(key, field, value)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def touch(self, project: str, vs_id: str, now: int) -> None:
        """Mark the store active (its expiry counts from here); nothing if it is gone."""
        self._touch(keys=[self.keys.vector_store(project, vs_id)], args=[now])

    def page(self, index_key: str, *, limit: int, order: str, after: str | None, before: str | None) -> Page:
        return self.store.page(index_key, limit=limit, order=order, after=after, before=before)  # type: ignore[arg-type]

    def delete(self, project: str, vs_id: str) -> bool:
        """Remove the store, each file with its chunks first, so no posting outlives its chunk."""
        if not self.client.exists(self.keys.vector_store(project, vs_id)):
            return False
        for file_id in self.store.all_ids(self.keys.vs_files(project, vs_id)):
            self.remove_file(project, vs_id, file_id)
        k = self.keys
        doomed = [k.vector_store(project, vs_id), k.vs_files(project, vs_id), k.vs_stats(project, vs_id)]
        doomed += [k.vs_files(project, vs_id, status) for status in FILE_STATUSES]
        doomed += [k.vs_chunks(project, vs_id), k.vs_chunk_terms(project, vs_id), k.vs_embeddings(project, vs_id)]
        batch_ids = self.store.all_ids(k.vs_batches(project, vs_id))
        batches = [k.vs_batch(project, vs_id, b) for b in batch_ids] + [k.vs_batches(project, vs_id)]
        batches += [k.vs_batch_files(project, vs_id, b) for b in batch_ids]
        # The store's keys share its slot; the project's index may not (store/slots.py), so it goes after them.
        slots.delete_then_unindex(self.client, [*doomed, *batches], [(k.vector_stores(project), vs_id)])
        return True

    # -- files -----------------------------------------------------------------------------------------------

    def add_file(self, project: str, vs_id: str, file_id: str, *, now: int, chunking: str, attributes: str) -> int:
        """1 added, 0 already there, -1 no such store."""
        k = self.keys
        # Before the add, so a file deleted meanwhile still finds this store (a stale entry is harmless).
        self.client.sadd(k.file_vector_stores(project, file_id), vs_id)
        reply = self._add(
            keys=[
                k.vector_store(project, vs_id),
                k.vs_file(project, vs_id, file_id),
                k.vs_files(project, vs_id),
                k.vs_files(project, vs_id, "in_progress"),
            ],
            args=[file_id, now, chunking, attributes],
        )
        return int(reply)

    def finish_file(self, project: str, vs_id: str, file_id: str, finish: Finish) -> bool:
        k = self.keys
        postings = finish.postings or {}
        keys = [
            k.vector_store(project, vs_id),
            k.vs_file(project, vs_id, file_id),
            k.vs_files(project, vs_id, "in_progress"),
            k.vs_files(project, vs_id, finish.status),
            k.vs_chunks(project, vs_id),
            k.vs_chunk_terms(project, vs_id),
            k.vs_embeddings(project, vs_id),
            k.vs_stats(project, vs_id),
        ]
        args: list[str | int] = [
            file_id,
            finish.status,
            finish.usage_bytes,
            finish.last_error,
            finish.model,
            len(finish.chunks),
        ]
        for chunk in finish.chunks:
            args += [chunk.chunk_id, chunk.doc, chunk.terms, chunk.vector]
        for term, entries in postings.items():
            keys.append(k.vs_term(project, vs_id, term))
            args.append(len(entries))
            for chunk_id, tf in entries:
                args += [chunk_id, tf]
        return bool(int(self._finish(keys=keys, args=args)))

    def remove_file(self, project: str, vs_id: str, file_id: str) -> bool:
        k = self.keys
        keys = [
            k.vector_store(project, vs_id),
            k.vs_file(project, vs_id, file_id),
            k.vs_files(project, vs_id),
            *(k.vs_files(project, vs_id, status) for status in FILE_STATUSES),
            k.vs_chunks(project, vs_id),
            k.vs_chunk_terms(project, vs_id),
            k.vs_embeddings(project, vs_id),
            k.vs_stats(project, vs_id),
            k.vs_term_prefix(project, vs_id),
        ]
        removed = bool(int(self._remove(keys=keys, args=[file_id])))
        self.client.srem(k.file_vector_stores(project, file_id), vs_id)
        return removed

    def get_file(self, project: str, vs_id: str, file_id: str) -> dict[str, str] | None:
        raw = self.client.hgetall(self.keys.vs_file(project, vs_id, file_id))
        return {_str(k): _str(v) for k, v in raw.items()} if raw else None

    def get_files(self, project: str, vs_id: str, file_ids: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
        pipe = self.client.pipeline(transaction=False)
        for file_id in file_ids:
            pipe.hgetall(self.keys.vs_file(project, vs_id, file_id))
        found = zip(file_ids, pipe.execute(), strict=True)
        return [(file_id, {_str(k): _str(v) for k, v in raw.items()}) for file_id, raw in found if raw]

    def stores_of_file(self, project: str, file_id: str) -> list[str]:
        return sorted(_str(m) for m in self.client.smembers(self.keys.file_vector_stores(project, file_id)))

    # -- batches ---------------------------------------------------------------------------------------------

    def create_batch(self, project: str, vs_id: str, batch_id: str, now: int, file_ids: Sequence[str]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.vs_batch(project, vs_id, batch_id), mapping={"created_at": now, "cancelled": 0})
        pipe.zadd(self.keys.vs_batch_files(project, vs_id, batch_id), dict.fromkeys(file_ids, 0))
        pipe.zadd(self.keys.vs_batches(project, vs_id), {batch_id: 0})
        pipe.execute()

    def get_batch(self, project: str, vs_id: str, batch_id: str) -> tuple[dict[str, str], list[str]] | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.vs_batch(project, vs_id, batch_id))
        pipe.zrange(self.keys.vs_batch_files(project, vs_id, batch_id), 0, -1)
        raw, members = pipe.execute()
        if not raw:
            return None
        return {_str(k): _str(v) for k, v in raw.items()}, [_str(m) for m in members]

    def cancel_batch(self, project: str, vs_id: str, batch_id: str) -> None:
        self.client.hset(self.keys.vs_batch(project, vs_id, batch_id), "cancelled", 1)

    def file_statuses(self, project: str, vs_id: str, file_ids: Sequence[str]) -> dict[str, str]:
        pipe = self.client.pipeline(transaction=False)
        for file_id in file_ids:
            pipe.hget(self.keys.vs_file(project, vs_id, file_id), "status")
        return {f: _str(s) for f, s in zip(file_ids, pipe.execute(), strict=True) if s is not None}

    # -- the index (read side) -------------------------------------------------------------------------------

    def stats(self, project: str, vs_id: str) -> dict[str, str]:
        return {_str(k): _str(v) for k, v in self.client.hgetall(self.keys.vs_stats(project, vs_id)).items()}

    def postings(self, project: str, vs_id: str, terms: Sequence[str]) -> list[dict[str, int]]:
        pipe = self.client.pipeline(transaction=False)
        for term in terms:
            pipe.hgetall(self.keys.vs_term(project, vs_id, term))
        return [{_str(c): int(tf) for c, tf in raw.items()} for raw in pipe.execute()]

    def chunk_lengths(self, project: str, vs_id: str, chunk_ids: Sequence[str]) -> dict[str, int]:
        if not chunk_ids:
            return {}
        values = self.client.hmget(self.keys.vs_chunk_terms(project, vs_id), list(chunk_ids))
        return {c: int(_str(v).split(" ", 1)[0]) for c, v in zip(chunk_ids, values, strict=True) if v is not None}

    def chunks(self, project: str, vs_id: str, chunk_ids: Sequence[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        values = self.client.hmget(self.keys.vs_chunks(project, vs_id), list(chunk_ids))
        return {c: _str(v) for c, v in zip(chunk_ids, values, strict=True) if v is not None}

    def embeddings(self, project: str, vs_id: str) -> dict[str, str]:
        return {_str(k): _str(v) for k, v in self.client.hgetall(self.keys.vs_embeddings(project, vs_id)).items()}
