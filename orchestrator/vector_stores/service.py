"""Vector-store use cases: stores, their files and file batches. Ingestion itself runs in the file_search pool.

A store's `status` and `file_counts` come from counters that move with each file's status in one Lua script
(store/vector_stores.py); a batch's are derived from its files' statuses when read. Both are therefore right at
every moment, which is what the SDK's `*_and_poll` helpers need to terminate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orchestrator.domain.ids import new_id
from orchestrator.domain.models import FileCounts, Thread, VectorStore, VectorStoreFile, VectorStoreFileBatch
from orchestrator.errors import InvalidRequest, NotFound
from orchestrator.files.service import require_files
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore
from orchestrator.store.vector_stores import FILE_STATUSES, Finish, VectorStoreStore
from orchestrator.vector_stores.requests import (
    ChunkingStrategy,
    VectorStoreCreate,
    VectorStoreFileCreate,
    VectorStoreUpdate,
    chunking_wire,
)

DAY_S = 86_400
#: How long a thread's own store lives after its last use, as OpenAI set it for stores made from attachments.
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}

Chunking = ChunkingStrategy | None


def not_found(kind: str, object_id: str) -> NotFound:
    return NotFound(f"No {kind} found with id '{object_id}'.")


# -- stores --------------------------------------------------------------------------------------------------


def create_vector_store(
    store: RedisStore, dispatcher: Dispatcher, project: str, body: VectorStoreCreate
) -> VectorStore:
    file_ids = list(dict.fromkeys(body.file_ids or []))
    if file_ids:
        require_files(store, project, file_ids, "file_ids")
    vs_id = new_id("vs_")
    created_at = now_s()
    doc = {
        "created_at": created_at,
        "name": body.name,
        "description": body.description,
        "expires_after": body.expires_after.model_dump() if body.expires_after else None,
        "metadata": body.metadata or {},
    }
    repo = VectorStoreStore(store)
    repo.create(project, vs_id, json.dumps(doc), created_at)
    _add(repo, dispatcher, project, vs_id, file_ids, body.chunking_strategy, None)
    return get_vector_store(store, project, vs_id)


def get_vector_store(store: RedisStore, project: str, vs_id: str) -> VectorStore:
    raw = VectorStoreStore(store).get(project, vs_id)
    if raw is None or "doc" not in raw:
        raise not_found("vector store", vs_id)
    return to_vector_store(vs_id, raw, now_s())


def get_vector_stores(store: RedisStore, project: str, ids: Sequence[str]) -> list[VectorStore]:
    now = now_s()
    raws = VectorStoreStore(store).get_many(project, ids)
    return [to_vector_store(vs_id, raw, now) for vs_id, raw in zip(ids, raws, strict=False) if "doc" in raw]


def update_vector_store(store: RedisStore, project: str, vs_id: str, body: VectorStoreUpdate) -> VectorStore:
    repo = VectorStoreStore(store)
    raw = repo.get(project, vs_id)
    if raw is None or "doc" not in raw:
        raise not_found("vector store", vs_id)
    doc = json.loads(raw["doc"])
    given = body.model_dump(exclude_unset=True)
    for field in ("name", "metadata"):
        if field in given:
            doc[field] = given[field] if field == "name" else (given[field] or {})
    if "expires_after" in given:
        doc["expires_after"] = given["expires_after"]
    # Only `doc` changes: the counters stay the scripts' alone.
    if not repo.set_doc(project, vs_id, json.dumps(doc)):
        raise not_found("vector store", vs_id)
    return get_vector_store(store, project, vs_id)


def delete_vector_store(store: RedisStore, project: str, vs_id: str) -> None:
    if not VectorStoreStore(store).delete(project, vs_id):
        raise not_found("vector store", vs_id)


def require_vector_stores(store: RedisStore, project: str, ids: Sequence[str], param: str) -> None:
    """A 400 naming `param` for the first id that is no store of this project's."""
    repo = VectorStoreStore(store)
    for vs_id in ids:
        raw = repo.get(project, vs_id)
        if raw is None or "doc" not in raw:
            raise InvalidRequest(f"No vector store found with id '{vs_id}'.", param=param, code="invalid_value")


def to_vector_store(vs_id: str, raw: dict[str, str], now: int) -> VectorStore:
    doc: dict[str, Any] = json.loads(raw["doc"])
    counts = _counts(raw)
    last_active = int(raw.get("last_active_at") or doc["created_at"])
    expires_after = doc.get("expires_after")
    expires_at = last_active + int(expires_after["days"]) * DAY_S if expires_after else None
    if expires_at is not None and now >= expires_at:
        status = "expired"
    else:
        status = "in_progress" if counts.in_progress > 0 else "completed"
    return VectorStore(
        id=vs_id,
        created_at=doc["created_at"],
        name=doc.get("name"),
        description=doc.get("description"),
        usage_bytes=max(0, int(raw.get("usage_bytes") or 0)),
        file_counts=counts,
        status=status,
        expires_after=expires_after,
        expires_at=expires_at,
        last_active_at=last_active,
        metadata=doc.get("metadata") or {},
    )


def _counts(raw: dict[str, str]) -> FileCounts:
    values = {status: max(0, int(raw.get(status) or 0)) for status in FILE_STATUSES}
    return FileCounts(**values, total=sum(values.values()))


# -- files ---------------------------------------------------------------------------------------------------


def add_files(
    store: RedisStore,
    dispatcher: Dispatcher,
    project: str,
    vector_store_id: str,
    file_ids: Sequence[str],
    *,
    chunking: Chunking = None,
    attributes: dict[str, Any] | None = None,
    param: str = "file_ids",
) -> list[VectorStoreFile]:
    """Add files (ingested by the file_search pool): the store's files for them, `in_progress` until then."""
    get_vector_store(store, project, vector_store_id)
    file_ids = list(dict.fromkeys(file_ids))
    require_files(store, project, file_ids, param)
    repo = VectorStoreStore(store)
    _add(repo, dispatcher, project, vector_store_id, file_ids, chunking, attributes)
    return [to_file(vector_store_id, f, raw) for f, raw in repo.get_files(project, vector_store_id, file_ids)]


def add_file(
    store: RedisStore, dispatcher: Dispatcher, project: str, vector_store_id: str, body: VectorStoreFileCreate
) -> VectorStoreFile:
    added = add_files(
        store,
        dispatcher,
        project,
        vector_store_id,
        [body.file_id],
        chunking=body.chunking_strategy,
        attributes=body.attributes,
        param="file_id",
    )
    if not added:  # removed again before it could be read back
        raise not_found("file", body.file_id)
    return added[0]


def _add(
    repo: VectorStoreStore,
    dispatcher: Dispatcher,
    project: str,
    vs_id: str,
    file_ids: Sequence[str],
    chunking: Chunking,
    attributes: dict[str, Any] | None,
) -> None:
    now = now_s()
    strategy = json.dumps(chunking_wire(chunking))
    given = json.dumps(attributes) if attributes is not None else ""
    for file_id in file_ids:
        outcome = repo.add_file(project, vs_id, file_id, now=now, chunking=strategy, attributes=given)
        if outcome < 0:
            raise not_found("vector store", vs_id)
        if outcome == 1:
            dispatcher.ingest_file(project, vs_id, file_id)


def get_file(store: RedisStore, project: str, vector_store_id: str, file_id: str) -> VectorStoreFile:
    raw = VectorStoreStore(store).get_file(project, vector_store_id, file_id)
    if raw is None:
        raise not_found("file", file_id)
    return to_file(vector_store_id, file_id, raw)


def get_files(store: RedisStore, project: str, vector_store_id: str, file_ids: Sequence[str]) -> list[VectorStoreFile]:
    found = VectorStoreStore(store).get_files(project, vector_store_id, file_ids)
    return [to_file(vector_store_id, f, raw) for f, raw in found]


def file_content(store: RedisStore, project: str, vector_store_id: str, file_id: str) -> list[str]:
    """The file's indexed text, chunk by chunk (consecutive chunks share the strategy's overlap)."""
    entry = VectorStoreStore(store).get_file(project, vector_store_id, file_id)
    if entry is None:
        raise not_found("file", file_id)
    chunk_ids = [f"{file_id}#{i}" for i in range(int(entry.get("chunks") or 0))]
    found = VectorStoreStore(store).chunks(project, vector_store_id, chunk_ids)
    return [json.loads(found[c])["text"] for c in chunk_ids if c in found]


def update_file(
    store: RedisStore, project: str, vector_store_id: str, file_id: str, attributes: dict[str, Any] | None
) -> VectorStoreFile:
    given = json.dumps(attributes) if attributes is not None else ""
    if not VectorStoreStore(store).set_file_attributes(project, vector_store_id, file_id, given):
        raise not_found("file", file_id)
    return get_file(store, project, vector_store_id, file_id)


def remove_file(store: RedisStore, project: str, vector_store_id: str, file_id: str) -> None:
    """Take the file out of the store (its chunks with it); the file itself stays."""
    get_vector_store(store, project, vector_store_id)
    if not VectorStoreStore(store).remove_file(project, vector_store_id, file_id):
        raise not_found("file", file_id)


def forget_file(store: RedisStore, project: str, file_id: str) -> None:
    """The file was deleted: take it out of every store that holds it."""
    repo = VectorStoreStore(store)
    for vs_id in repo.stores_of_file(project, file_id):
        repo.remove_file(project, vs_id, file_id)


def file_index(store: RedisStore, project: str, vector_store_id: str, status: str | None) -> str:
    """The index to page a store's files from (all, or those in one status)."""
    get_vector_store(store, project, vector_store_id)
    return store.keys.vs_files(project, vector_store_id, status or "")


def to_file(vs_id: str, file_id: str, raw: dict[str, str]) -> VectorStoreFile:
    return VectorStoreFile(
        id=file_id,
        usage_bytes=int(raw.get("usage_bytes") or 0),
        created_at=int(raw.get("created_at") or 0),
        vector_store_id=vs_id,
        status=raw.get("status", "in_progress"),
        last_error=json.loads(raw["last_error"]) if raw.get("last_error") else None,
        chunking_strategy=json.loads(raw.get("chunking") or "{}") or chunking_wire(None),
        attributes=json.loads(raw["attributes"]) if raw.get("attributes") else None,
    )


# -- batches -------------------------------------------------------------------------------------------------


def create_batch(
    store: RedisStore,
    dispatcher: Dispatcher,
    project: str,
    vector_store_id: str,
    entries: Sequence[tuple[str, Chunking, dict[str, Any] | None]],
) -> VectorStoreFileBatch:
    get_vector_store(store, project, vector_store_id)
    file_ids = list(dict.fromkeys(file_id for file_id, _, _ in entries))
    param = "file_ids"
    require_files(store, project, file_ids, param)
    batch_id = new_id("vsfb_")
    repo = VectorStoreStore(store)
    # The batch exists before its files are added, so a poll between the two already sees them counted.
    repo.create_batch(project, vector_store_id, batch_id, now_s(), file_ids)
    for file_id, chunking, attributes in entries:
        _add(repo, dispatcher, project, vector_store_id, [file_id], chunking, attributes)
    return get_batch(store, project, vector_store_id, batch_id)


def get_batch(store: RedisStore, project: str, vector_store_id: str, batch_id: str) -> VectorStoreFileBatch:
    repo = VectorStoreStore(store)
    found = repo.get_batch(project, vector_store_id, batch_id)
    if found is None:
        raise not_found("file batch", batch_id)
    meta, members = found
    statuses = repo.file_statuses(project, vector_store_id, members)
    values = {status: sum(1 for s in statuses.values() if s == status) for status in FILE_STATUSES}
    counts = FileCounts(**values, total=sum(values.values()))
    if counts.in_progress:
        status = "in_progress"
    elif meta.get("cancelled") == "1":
        status = "cancelled"
    elif counts.total and counts.failed == counts.total:
        status = "failed"
    else:
        status = "completed"
    return VectorStoreFileBatch(
        id=batch_id,
        created_at=int(meta["created_at"]),
        vector_store_id=vector_store_id,
        status=status,
        file_counts=counts,
    )


def cancel_batch(store: RedisStore, project: str, vector_store_id: str, batch_id: str) -> VectorStoreFileBatch:
    """Files of the batch not yet ingested end `cancelled` (the worker that meets one later does nothing)."""
    repo = VectorStoreStore(store)
    found = repo.get_batch(project, vector_store_id, batch_id)
    if found is None:
        raise not_found("file batch", batch_id)
    pending = [f for f, s in repo.file_statuses(project, vector_store_id, found[1]).items() if s == "in_progress"]
    if pending:  # a batch already finished stays as it ended
        repo.cancel_batch(project, vector_store_id, batch_id)
    for file_id in pending:
        repo.finish_file(project, vector_store_id, file_id, Finish(status="cancelled"))
    return get_batch(store, project, vector_store_id, batch_id)


def batch_files(
    store: RedisStore, project: str, vector_store_id: str, batch_id: str, status: str | None
) -> list[VectorStoreFile]:
    """The batch's files still in the store (at most 2,000), in id order, optionally of one status."""
    found = VectorStoreStore(store).get_batch(project, vector_store_id, batch_id)
    if found is None:
        raise not_found("file batch", batch_id)
    files = get_files(store, project, vector_store_id, sorted(found[1]))
    return [f for f in files if status is None or f.status == status]


# -- a thread's own store ------------------------------------------------------------------------------------


def thread_store(store: RedisStore, dispatcher: Dispatcher, project: str, thread_id: str, file_ids: list[str]) -> str:
    """The thread's own store for files attached to its messages, created on first use and kept on the thread's
    tool_resources.file_search.vector_store_ids; the files are added to it."""
    thread = store.get_thread(project, thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    existing = thread.tool_resources.get("file_search", {}).get("vector_store_ids") or []
    for vs_id in existing:
        raw = VectorStoreStore(store).get(project, vs_id)
        if raw is not None and "doc" in raw:
            add_files(store, dispatcher, project, vs_id, file_ids, param="attachments")
            return str(vs_id)
    created = create_vector_store(
        store,
        dispatcher,
        project,
        VectorStoreCreate.model_validate({"file_ids": file_ids, "expires_after": THREAD_STORE_EXPIRY}),
    )

    def attach(current: Thread) -> Thread:
        resources = dict(current.tool_resources)
        search = dict(resources.get("file_search") or {})
        search["vector_store_ids"] = [created.id]
        resources["file_search"] = search
        return current.model_copy(update={"tool_resources": resources})

    store.update_doc(store.keys.thread(project, thread_id), Thread, attach)
    store.client.set(store.keys.thread_vector_store(project, thread_id), created.id)
    return created.id
