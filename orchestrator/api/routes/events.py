"""GET /v1/threads/{thread_id}/runs/{run_id}/events: follow any run's events (beyond OpenAI's API), from its start
or resumed after an event id, until the run ends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from orchestrator.api.deps import ProjectDep, SettingsDep, StoreDep
from orchestrator.api.sse import follow_run, replay_finished
from orchestrator.bus import event_log
from orchestrator.domain.status import TERMINAL_RUN_STATUSES
from orchestrator.services import runs

router = APIRouter(prefix="/v1/threads", tags=["runs"])

# The error statuses are added to every /v1 operation by `api/openapi.py`.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "The run's events as Server-Sent Events, ending with `event: done`.",
    },
    204: {"description": "The run has ended and the follower has already seen its last event."},
}


@router.get(
    "/{thread_id}/runs/{run_id}/events", response_class=StreamingResponse, responses=RESPONSES, response_model=None
)
def follow_run_events(
    request: Request,
    thread_id: str,
    run_id: str,
    store: StoreDep,
    project: ProjectDep,
    settings: SettingsDep,
    after: Annotated[str | None, Query(description="Resume after this event id (an SSE `id:` line).")] = None,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event id; takes precedence over `after`.")
    ] = None,
) -> Response:
    """The run's events as SSE, from its start or after an event id, until the run's terminal event; unlike a
    `stream: true` response this one goes on through `requires_action`. Ends with `event: done`."""
    runs.get_run(store, project, thread_id, run_id)  # 404 for an unknown run, and for another project's
    # An EventSource reconnects to the URL it was given, whose `?after=` is older than the id in its header.
    param, resume_after = ("Last-Event-ID", last_event_id) if last_event_id else ("after", after or None)
    log_key = store.keys.events(project, thread_id, run_id)
    start = event_log.start_position(
        store.client, log_key, run_id, resume_after, param=param, ttl_s=settings.event_log_ttl_s
    )
    # Read after the log checks: a run still active here has not committed its terminal event (a state change and
    # its event are one commit), so that event comes after `start` and the follower is sure to see it.
    if runs.get_run(store, project, thread_id, run_id).status not in TERMINAL_RUN_STATUSES:
        return follow_run(request, log_key, run_id, start)
    remaining = event_log.read_events(store.client, log_key, start)
    if not remaining and not store.client.exists(log_key):
        # The log expired between the checks above and this read: as gone as if it had expired before them.
        raise event_log.expired(run_id, settings.event_log_ttl_s)
    if not remaining:
        # Resumed after the run's last event: nothing more will come, and a 204 tells an EventSource to stop
        # reconnecting (any 200 would have it reconnect for ever).
        return Response(status_code=204)
    return replay_finished(remaining)
