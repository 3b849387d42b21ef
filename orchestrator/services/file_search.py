"""file_search's resources on assistants, threads and messages, as OpenAI handled them.

- `tool_resources.file_search.vector_store_ids` must name vector stores of the caller's project (400 naming it).
- The inline `tool_resources.file_search.vector_stores` helper becomes a new store made from its `file_ids`, whose
  id joins `vector_store_ids` (OpenAI took it on create only; here updates may use it too).
- A message attachment with a `file_search` tool puts its file in the thread's own vector store, created on demand.

The file ids themselves are checked before any of this, with the rest of the request (orchestrator/files/checks.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.domain.models import JSON
from orchestrator.domain.requests import MessageCreate
from orchestrator.services.dispatch import Dispatcher
from orchestrator.store import RedisStore
from orchestrator.vector_stores.requests import VectorStoreCreate
from orchestrator.vector_stores.service import create_vector_store, require_vector_stores, thread_store

PARAM = "tool_resources.file_search"


def prepare_resources(
    store: RedisStore, dispatcher: Dispatcher | None, project: str, resources: JSON | None
) -> JSON | None:
    """`resources` with its vector-store ids checked and its `vector_stores` helper replaced by the store it made."""
    if not resources or not resources.get("file_search"):
        return resources
    search = dict(resources["file_search"])
    ids = list(search.get("vector_store_ids") or [])
    require_vector_stores(store, project, ids, f"{PARAM}.vector_store_ids")
    helpers = search.pop("vector_stores", None) or []
    for helper in helpers:
        made = create_vector_store(store, _needed(dispatcher), project, VectorStoreCreate.model_validate(helper))
        ids.append(made.id)
    search["vector_store_ids"] = ids
    return {**resources, "file_search": search}


def searched_attachments(messages: Iterable[MessageCreate]) -> list[str]:
    """The files the messages attach with the file_search tool, each once."""
    file_ids: list[str] = []
    for message in messages:
        for attachment in message.attachments or []:
            searched = any(tool.get("type") == "file_search" for tool in attachment.get("tools") or [])
            if searched and attachment["file_id"] not in file_ids:
                file_ids.append(attachment["file_id"])
    return file_ids


def add_to_thread_store(
    store: RedisStore, dispatcher: Dispatcher | None, project: str, thread_id: str, file_ids: list[str]
) -> None:
    """Put attached files in the thread's own vector store (ingested by the file_search pool)."""
    if file_ids:
        thread_store(store, _needed(dispatcher), project, thread_id, file_ids)


def _needed(dispatcher: Dispatcher | None) -> Dispatcher:
    if dispatcher is None:
        raise RuntimeError("files for file_search need a dispatcher to queue their ingestion")
    return dispatcher
