"""/v1/threads (with a listing beyond OpenAI's API) and /v1/threads/{thread_id}/messages"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import DispatcherDep, PagingDep, ProjectDep, StoreDep
from orchestrator.api.listing import list_page
from orchestrator.domain.models import deleted
from orchestrator.domain.requests import MessageCreate, MetadataUpdate, ThreadCreate, ThreadUpdate
from orchestrator.services import threads

router = APIRouter(prefix="/v1/threads", tags=["threads"])


@router.post("")
def create_thread(
    store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep, body: ThreadCreate | None = None
) -> dict[str, Any]:
    return threads.create_thread(store, project, body, dispatcher).wire()


@router.get("")
def list_threads(store: StoreDep, project: ProjectDep, paging: PagingDep) -> dict[str, Any]:
    """The project's threads, newest first by default (beyond OpenAI's API, which cannot list threads).

    Threads created before this listing existed have no index entry and are not listed; each remains readable by
    its id."""
    return list_page(store, store.keys.threads(project), paging, lambda ids: store.get_threads(project, ids))


@router.get("/{thread_id}")
def get_thread(thread_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return threads.get_thread(store, project, thread_id).wire()


@router.post("/{thread_id}")
def update_thread(
    thread_id: str, body: ThreadUpdate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return threads.update_thread(store, project, thread_id, body, dispatcher).wire()


@router.delete("/{thread_id}")
def delete_thread(thread_id: str, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep) -> dict[str, Any]:
    threads.delete_thread(store, project, thread_id, dispatcher)
    return deleted(thread_id, "thread.deleted")


@router.post("/{thread_id}/messages")
def create_message(
    thread_id: str, body: MessageCreate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return threads.add_message(store, project, thread_id, body, dispatcher).wire()


@router.get("/{thread_id}/messages")
def list_messages(
    thread_id: str, store: StoreDep, project: ProjectDep, paging: PagingDep, run_id: str | None = None
) -> dict[str, Any]:
    threads.get_thread(store, project, thread_id)
    keys = store.keys
    index = keys.run_messages(project, thread_id, run_id) if run_id else keys.messages(project, thread_id)
    return list_page(store, index, paging, lambda ids: store.get_messages(project, thread_id, ids))


@router.get("/{thread_id}/messages/{message_id}")
def get_message(thread_id: str, message_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return threads.get_message(store, project, thread_id, message_id).wire()


@router.post("/{thread_id}/messages/{message_id}")
def update_message(
    thread_id: str, message_id: str, body: MetadataUpdate, store: StoreDep, project: ProjectDep
) -> dict[str, Any]:
    return threads.update_message(store, project, thread_id, message_id, body.metadata).wire()


@router.delete("/{thread_id}/messages/{message_id}")
def delete_message(thread_id: str, message_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    threads.delete_message(store, project, thread_id, message_id)
    return deleted(message_id, "thread.message.deleted")
