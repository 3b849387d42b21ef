"""/v1/assistants"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import DispatcherDep, PagingDep, ProjectDep, StoreDep
from orchestrator.api.listing import list_page
from orchestrator.domain.models import deleted
from orchestrator.domain.requests import AssistantCreate, AssistantUpdate
from orchestrator.services import assistants

router = APIRouter(prefix="/v1/assistants", tags=["assistants"])


@router.post("")
def create_assistant(
    body: AssistantCreate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return assistants.create(store, project, body, dispatcher).wire()


@router.get("")
def list_assistants(store: StoreDep, project: ProjectDep, paging: PagingDep) -> dict[str, Any]:
    return list_page(store, store.keys.assistants(project), paging, lambda ids: store.get_assistants(project, ids))


@router.get("/{assistant_id}")
def get_assistant(assistant_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return assistants.get(store, project, assistant_id).wire()


@router.post("/{assistant_id}")
def update_assistant(
    assistant_id: str, body: AssistantUpdate, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return assistants.update(store, project, assistant_id, body, dispatcher).wire()


@router.delete("/{assistant_id}")
def delete_assistant(assistant_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    assistants.delete(store, project, assistant_id)
    return deleted(assistant_id, "assistant.deleted")
