"""/v1/threads/{thread_id}/runs, run steps, and /v1/threads/runs (create a thread and run it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from orchestrator.api.deps import DispatcherDep, PagingDep, ProjectDep, SettingsDep, StoreDep
from orchestrator.api.listing import list_page
from orchestrator.api.sse import stream_run
from orchestrator.domain.requests import MetadataUpdate, RunCreate, ThreadAndRunCreate, ToolOutputsSubmit
from orchestrator.domain.step_include import SEARCH_RESULT_CONTENT, included, step_wire
from orchestrator.errors import InvalidRequest
from orchestrator.services import runs, threads

router = APIRouter(prefix="/v1/threads", tags=["runs"])


#: Documented as an enum, checked here so that the error names `include` as OpenAI's does.
_INCLUDE_QUERY = Query(
    alias="include[]", json_schema_extra={"items": {"type": "string", "enum": [SEARCH_RESULT_CONTENT]}}
)


async def _include(include: Annotated[list[str] | None, _INCLUDE_QUERY] = None) -> frozenset[str]:
    """`include[]` on run steps: only file_search result content can be asked for, as on OpenAI."""
    for value in include or []:
        if value != SEARCH_RESULT_CONTENT:
            raise InvalidRequest(
                f"Invalid value: '{value}'. Supported values are: '{SEARCH_RESULT_CONTENT}'.", param="include"
            )
    return frozenset(include or [])


IncludeDep = Annotated[frozenset[str], Depends(_include)]


@router.post("/runs", response_model=None)
def create_thread_and_run(
    request: Request,
    body: ThreadAndRunCreate,
    store: StoreDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
    settings: SettingsDep,
) -> dict[str, Any] | Response:
    thread, started = runs.create_thread_and_run(store, dispatcher, project, body, expiry_s=settings.run_expiry_s)
    if body.stream:
        return stream_run(request, project, thread.id, started.run.id, started.first_event_id)
    return started.run.wire()


@router.post("/{thread_id}/runs", response_model=None)
def create_run(
    request: Request,
    thread_id: str,
    body: RunCreate,
    store: StoreDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
    settings: SettingsDep,
) -> dict[str, Any] | Response:
    started = runs.create_run(store, dispatcher, project, thread_id, body, expiry_s=settings.run_expiry_s)
    if body.stream:
        return stream_run(request, project, thread_id, started.run.id, started.first_event_id)
    return started.run.wire()


@router.get("/{thread_id}/runs")
def list_runs(thread_id: str, store: StoreDep, project: ProjectDep, paging: PagingDep) -> dict[str, Any]:
    threads.get_thread(store, project, thread_id)
    return list_page(
        store, store.keys.runs(project, thread_id), paging, lambda ids: store.get_runs(project, thread_id, ids)
    )


@router.get("/{thread_id}/runs/{run_id}")
def get_run(thread_id: str, run_id: str, store: StoreDep, project: ProjectDep) -> dict[str, Any]:
    return runs.get_run(store, project, thread_id, run_id).wire()


@router.post("/{thread_id}/runs/{run_id}")
def update_run(
    thread_id: str, run_id: str, body: MetadataUpdate, store: StoreDep, project: ProjectDep
) -> dict[str, Any]:
    return runs.update_run(store, project, thread_id, run_id, body.metadata).wire()


@router.post("/{thread_id}/runs/{run_id}/cancel")
def cancel_run(
    thread_id: str, run_id: str, store: StoreDep, dispatcher: DispatcherDep, project: ProjectDep
) -> dict[str, Any]:
    return runs.cancel_run(store, dispatcher, project, thread_id, run_id).wire()


@router.post("/{thread_id}/runs/{run_id}/submit_tool_outputs", response_model=None)
def submit_tool_outputs(
    request: Request,
    thread_id: str,
    run_id: str,
    body: ToolOutputsSubmit,
    store: StoreDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
) -> dict[str, Any] | Response:
    started = runs.submit_tool_outputs(store, dispatcher, project, thread_id, run_id, body)
    if body.stream:
        return stream_run(request, project, thread_id, run_id, started.first_event_id)
    return started.run.wire()


@router.get("/{thread_id}/runs/{run_id}/steps")
def list_steps(
    thread_id: str, run_id: str, store: StoreDep, project: ProjectDep, paging: PagingDep, include: IncludeDep
) -> dict[str, Any]:
    runs.get_run(store, project, thread_id, run_id)
    page = list_page(
        store,
        store.keys.steps(project, thread_id, run_id),
        paging,
        lambda ids: store.get_steps(project, thread_id, ids),
    )
    page["data"] = [included(step, include) for step in page["data"]]
    return page


@router.get("/{thread_id}/runs/{run_id}/steps/{step_id}")
def get_step(
    thread_id: str, run_id: str, step_id: str, store: StoreDep, project: ProjectDep, include: IncludeDep
) -> dict[str, Any]:
    return step_wire(runs.get_step(store, project, thread_id, run_id, step_id), include)
