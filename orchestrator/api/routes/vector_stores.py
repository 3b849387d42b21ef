"""/v1/vector_stores: stores, their files, file batches and search (SDK 3.x `client.vector_stores` and the older
`client.beta.vector_stores` call the same paths)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from orchestrator.api.deps import DispatcherDep, Paging, PagingDep, ProjectDep, SettingsDep, StoreDep
from orchestrator.api.listing import list_page
from orchestrator.domain.models import VectorStoreFile, deleted
from orchestrator.vector_stores import retrieval
from orchestrator.vector_stores import service as vector_stores
from orchestrator.vector_stores.embed import embedder_from_settings
from orchestrator.vector_stores.requests import (
    FileBatchCreate,
    SearchRequest,
    VectorStoreCreate,
    VectorStoreFileCreate,
    VectorStoreFileUpdate,
    VectorStoreUpdate,
)

router = APIRouter(prefix="/v1/vector_stores", tags=["vector_stores"])
StatusFilter = Annotated[Literal["in_progress", "completed", "failed", "cancelled"] | None, Query()]


@router.post("")
def create_vector_store(
    body: VectorStoreCreate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return vector_stores.create_vector_store(store, dispatcher, project, body).wire()


@router.get("")
def list_vector_stores(store: StoreDep, project: ProjectDep, paging: PagingDep) -> dict[str, Any]:
    return list_page(
        store,
        store.keys.vector_stores(project),
        paging,
        lambda ids: vector_stores.get_vector_stores(store, project, ids),
    )


@router.get("/{vector_store_id}")
def get_vector_store(vector_store_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return vector_stores.get_vector_store(store, project, vector_store_id).wire()


@router.post("/{vector_store_id}")
def update_vector_store(
    vector_store_id: str, body: VectorStoreUpdate, store: StoreDep, project: ProjectDep
) -> dict[str, Any]:
    return vector_stores.update_vector_store(store, project, vector_store_id, body).wire()


@router.delete("/{vector_store_id}")
def delete_vector_store(vector_store_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    vector_stores.delete_vector_store(store, project, vector_store_id)
    return deleted(vector_store_id, "vector_store.deleted")


@router.post("/{vector_store_id}/search")
async def search_vector_store(
    vector_store_id: str, body: SearchRequest, store: StoreDep, project: ProjectDep, settings: SettingsDep
) -> dict[str, Any]:
    vector_stores.get_vector_store(store, project, vector_store_id)
    # Embedding the query may call the upstream or run a local model: off the event loop.
    results = await run_in_threadpool(
        retrieval.search,
        store,
        project,
        [vector_store_id],
        " ".join(body.queries()),
        max_num_results=body.max_num_results,
        ranking_options=body.ranking_options.model_dump(exclude_none=True) if body.ranking_options else None,
        embedder=embedder_from_settings(settings),
    )
    return {
        "object": "vector_store.search_results.page",
        "search_query": body.queries(),
        "data": [r.search_result() for r in results],
        "has_more": False,
        "next_page": None,
    }


# -- files ---------------------------------------------------------------------------------------------------


@router.post("/{vector_store_id}/files")
def create_file(
    vector_store_id: str, body: VectorStoreFileCreate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return vector_stores.add_file(store, dispatcher, project, vector_store_id, body).wire()


@router.get("/{vector_store_id}/files")
def list_files(
    vector_store_id: str, store: StoreDep, project: ProjectDep, paging: PagingDep, filter: StatusFilter = None
) -> dict[str, Any]:
    index = vector_stores.file_index(store, project, vector_store_id, filter)
    return list_page(store, index, paging, lambda ids: vector_stores.get_files(store, project, vector_store_id, ids))


@router.get("/{vector_store_id}/files/{file_id}")
def get_file(vector_store_id: str, file_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return vector_stores.get_file(store, project, vector_store_id, file_id).wire()


@router.get("/{vector_store_id}/files/{file_id}/content")
def get_file_content(vector_store_id: str, file_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    texts = vector_stores.file_content(store, project, vector_store_id, file_id)
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text} for text in texts],
        "has_more": False,
        "next_page": None,
    }


@router.post("/{vector_store_id}/files/{file_id}")
def update_file(
    vector_store_id: str, file_id: str, body: VectorStoreFileUpdate, store: StoreDep, project: ProjectDep
) -> dict[str, Any]:
    return vector_stores.update_file(store, project, vector_store_id, file_id, body.attributes).wire()


@router.delete("/{vector_store_id}/files/{file_id}")
def delete_file(vector_store_id: str, file_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    vector_stores.remove_file(store, project, vector_store_id, file_id)
    return deleted(file_id, "vector_store.file.deleted")


# -- file batches --------------------------------------------------------------------------------------------


@router.post("/{vector_store_id}/file_batches")
def create_batch(
    vector_store_id: str, body: FileBatchCreate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    entries = [(f.file_id, f.chunking_strategy, f.attributes) for f in body.entries()]
    return vector_stores.create_batch(store, dispatcher, project, vector_store_id, entries).wire()


@router.get("/{vector_store_id}/file_batches/{batch_id}")
def get_batch(vector_store_id: str, batch_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return vector_stores.get_batch(store, project, vector_store_id, batch_id).wire()


@router.post("/{vector_store_id}/file_batches/{batch_id}/cancel")
def cancel_batch(vector_store_id: str, batch_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return vector_stores.cancel_batch(store, project, vector_store_id, batch_id).wire()


@router.get("/{vector_store_id}/file_batches/{batch_id}/files")
def list_batch_files(
    vector_store_id: str,
    batch_id: str,
    store: StoreDep,
    project: ProjectDep,
    paging: PagingDep,
    filter: StatusFilter = None,
) -> dict[str, Any]:
    files = vector_stores.batch_files(store, project, vector_store_id, batch_id, filter)
    return _page(files, paging)


def _page(files: list[VectorStoreFile], paging: Paging) -> dict[str, Any]:
    """OpenAI's cursor page over a list already in memory (a batch holds at most 2,000 files)."""
    ordered = files if paging.order == "asc" else list(reversed(files))
    ids = [f.id for f in ordered]
    start = ids.index(paging.after) + 1 if paging.after in ids else 0
    end = ids.index(paging.before) if paging.before in ids else len(ids)
    window = ordered[start:end]
    data = [f.wire() for f in window[: paging.limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(window) > paging.limit,
    }
