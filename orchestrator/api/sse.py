"""Serving a run's events as Server-Sent Events exactly as the SDK's stream helpers parse them."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from orchestrator import metrics
from orchestrator.bus.redis_bus import replay_then_follow

#: Events after which the client's stream is over: the run finished or waits for the client.
STREAM_END_EVENTS = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.incomplete",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
        "error",
    }
)
DONE = b"event: done\ndata: [DONE]\n\n"


def frame(event: str, data: str, event_id: str) -> bytes:
    """One SSE event. The `id:` is the event's position in the run's log: the SDK ignores it, and it is what a
    reconnecting client will hand back to resume."""
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()


def stream_run(request: Request, project: str, thread_id: str, run_id: str, start_id: str) -> StreamingResponse:
    state = request.app.state
    log_key = state.store.keys.events(project, thread_id, run_id)
    keepalive = state.settings.sse_keepalive_s

    async def body() -> AsyncIterator[bytes]:
        metrics.SSE_STREAMS_OPEN.inc()
        try:
            async for chunk in _frames():
                yield chunk
        finally:
            metrics.SSE_STREAMS_OPEN.dec()

    async def _frames() -> AsyncIterator[bytes]:
        quiet = 0.0
        async for event in replay_then_follow(state.bus, state.aredis, log_key, run_id, start_id):
            if event is None:
                quiet += 1.0
                if await request.is_disconnected():
                    return
                if quiet >= keepalive:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
                continue
            quiet = 0.0
            yield frame(event.event, event.data, event.id)
            if event.event in STREAM_END_EVENTS:
                yield DONE
                return

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
