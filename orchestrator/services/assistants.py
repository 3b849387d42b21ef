"""Assistant use cases: create, read, list, modify, delete."""

from __future__ import annotations

from orchestrator.domain.ids import new_id
from orchestrator.domain.models import Assistant
from orchestrator.domain.requests import AssistantCreate, AssistantUpdate
from orchestrator.errors import NotFound
from orchestrator.files import checks
from orchestrator.services import file_search
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore


def not_found(kind: str, object_id: str) -> NotFound:
    return NotFound(f"No {kind} found with id '{object_id}'.")


def create(store: RedisStore, project: str, body: AssistantCreate, dispatcher: Dispatcher | None = None) -> Assistant:
    """A new assistant; a `vector_stores` helper in tool_resources becomes a store (ingestion needs `dispatcher`)."""
    checks.require(store, project, checks.resource_file_ids(body.tool_resources))
    fields = body.model_dump(exclude_none=True)
    if body.tool_resources is not None:
        fields["tool_resources"] = file_search.prepare_resources(store, dispatcher, project, body.tool_resources)
    assistant = Assistant(id=new_id("asst_"), created_at=now_s(), **fields)
    store.put_indexed(
        [(store.keys.assistant(project, assistant.id), assistant)], [(store.keys.assistants(project), assistant.id)]
    )
    return assistant


def get(store: RedisStore, project: str, assistant_id: str) -> Assistant:
    assistant = store.get_assistant(project, assistant_id)
    if assistant is None:
        raise not_found("assistant", assistant_id)
    return assistant


def update(
    store: RedisStore, project: str, assistant_id: str, body: AssistantUpdate, dispatcher: Dispatcher | None = None
) -> Assistant:
    checks.require(store, project, checks.resource_file_ids(body.tool_resources))
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k in ("name", "description", "instructions")}
    if body.tool_resources is not None:
        get(store, project, assistant_id)  # no store is made for an assistant that does not exist
        changes["tool_resources"] = file_search.prepare_resources(store, dispatcher, project, body.tool_resources)
    updated = store.update_doc(
        store.keys.assistant(project, assistant_id), Assistant, lambda a: a.model_copy(update=changes)
    )
    if updated is None:
        raise not_found("assistant", assistant_id)
    return Assistant.model_validate(updated.model_dump())


def delete(store: RedisStore, project: str, assistant_id: str) -> None:
    keys = store.keys
    if not store.delete([keys.assistant(project, assistant_id)], [(keys.assistants(project), assistant_id)]):
        raise not_found("assistant", assistant_id)
