"""Serving a run's events as Server-Sent Events: the stream a create or submit request answers with, exactly as the
SDKs' stream helpers parse it, and the resumable follower of `GET .../runs/{run_id}/events`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from fastapi import Request
from fastapi.responses import StreamingResponse

from orchestrator import metrics
from orchestrator.bus.events import BusEvent, frame
from orchestrator.bus.feed import FeedEvent, follow
from orchestrator.bus.redis_bus import RunEventBus
from orchestrator.domain.status import TERMINAL_RUN_STATUSES
from orchestrator.domain.transitions import RUN_EVENT_NAMES

#: Events after which a run does nothing more.
RUN_END_EVENTS = frozenset(RUN_EVENT_NAMES[status] for status in TERMINAL_RUN_STATUSES)
#: Events after which the SDK-facing stream is over: the run finished, or it waits for the client's tool outputs
#: (which the client submits with a request that streams on by itself).
STREAM_END_EVENTS = RUN_END_EVENTS | {"thread.run.requires_action", "error"}
DONE = b"event: done\ndata: [DONE]\n\n"

# A comment line WITHOUT the blank line that would end an event. The official Python SDK's decoder keeps the last
# `id:` across events (as the SSE spec says) and, unlike the spec, dispatches an event at every blank line once it has
# one, even with an empty data buffer: `: keep-alive\n\n` after an `id:` line became an event with empty data, hence
# a JSONDecodeError in `runs.stream(...)` after 10 quiet seconds (the Node SDK and EventSource ignore it). Per the
# spec a comment line is ignored and only a blank line dispatches, so a lone comment line is a no-op for every
# line-based parser (both SDKs, EventSource), while its bytes still reset the idle timers of the client, of proxies
# and of load balancers, which forward bytes as they come (with buffering off, see docs/operations.md). Dropping the
# `id:` lines instead would have fixed the SDK too, but they are what a client hands back to resume.
KEEPALIVE = b": keep-alive\n"

__all__ = ["DONE", "KEEPALIVE", "follow_run", "frame", "replay_finished", "stream_run"]


def _response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _written(batch: Sequence[FeedEvent], end: frozenset[str]) -> tuple[bytes, bool]:
    """A batch of events as one write, cut after the first of `end` (then followed by DONE), and whether it ended."""
    for at, entry in enumerate(batch):
        if entry.event.event in end:
            return b"".join([*(e.frame for e in batch[: at + 1]), DONE]), True
    return (batch[0].frame if len(batch) == 1 else b"".join(e.frame for e in batch)), False


async def _live_frames(
    request: Request,
    log_key: str,
    run_id: str,
    start: str,
    end: frozenset[str],
) -> AsyncIterator[bytes]:
    """The run's events from `start` on, live, until one of `end`; keep-alives while the run is quiet. Everything
    new since the last write goes out in one write, its frames encoded once for every stream of the run."""
    state = request.app.state
    bus: RunEventBus = state.bus
    keepalive_s = state.settings.sse_keepalive_s
    quiet = 0.0
    metrics.SSE_STREAMS_OPEN.inc()
    try:
        async with bus.feed(run_id, log_key) as feed:
            async for batch in follow(feed, start):
                if batch is None:  # one quiet second
                    quiet += 1.0
                    if await request.is_disconnected():
                        return
                    if quiet >= keepalive_s:
                        quiet = 0.0
                        yield KEEPALIVE
                    continue
                quiet = 0.0
                chunk, ended = _written(batch, end)
                yield chunk
                if ended:
                    return
    finally:
        metrics.SSE_STREAMS_OPEN.dec()


def stream_run(request: Request, project: str, thread_id: str, run_id: str, start_id: str) -> StreamingResponse:
    """The stream a `stream: true` request answers with: from `start_id` (inclusive) to the run's end or its
    `requires_action`."""
    log_key = request.app.state.store.keys.events(project, thread_id, run_id)
    return _response(_live_frames(request, log_key, run_id, start_id, STREAM_END_EVENTS))


def follow_run(request: Request, log_key: str, run_id: str, start: str) -> StreamingResponse:
    """A resumable follower of a run that has not ended: its events from the XRANGE `start` on, through any
    `requires_action`, until the run's terminal event. Many followers of one run share the API process's single
    pub/sub connection."""
    return _response(_live_frames(request, log_key, run_id, start, RUN_END_EVENTS))


def replay_finished(events: Iterable[BusEvent]) -> StreamingResponse:
    """A follower of a run that has ended: its remaining events, already read from the log, then the end."""

    async def body() -> AsyncIterator[bytes]:
        metrics.SSE_STREAMS_OPEN.inc()
        try:
            for event in events:
                yield frame(event.event, event.data, event.id)
            yield DONE
        finally:
            metrics.SSE_STREAMS_OPEN.dec()

    return _response(body())
