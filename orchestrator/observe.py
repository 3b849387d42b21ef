"""Observers that turn what happens into metrics. They never fail the work they watch: errors are logged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import structlog

from orchestrator import metrics

log = structlog.get_logger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_TERMINAL_EVENTS = {
    f"thread.run.{status}": status for status in ("completed", "incomplete", "failed", "cancelled", "expired")
}


def _swallow(fn: Callable[P, None]) -> Callable[P, None]:
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            log.warning("observer.failed", observer=fn.__name__, exc_info=True)

    return wrapper


@_swallow
def events_committed(events: Sequence[tuple[str, bytes]]) -> None:
    """Called by the store after a commit landed: counts events, creations and endings."""
    for name, _ in events:
        metrics.EVENTS_PUBLISHED.labels(event=name).inc()
        if name == "thread.run.created":
            metrics.RUNS_CREATED.inc()
        status = _TERMINAL_EVENTS.get(name)
        if status is not None:
            metrics.RUNS_FINISHED.labels(status=status).inc()


@_swallow
def run_started(created_s: float) -> None:
    metrics.RUNS_STARTED.inc()
    metrics.QUEUE_WAIT.observe(max(0.0, time.time() - created_s))


@_swallow
def first_token(created_s: float) -> None:
    metrics.TIME_TO_FIRST_TOKEN.observe(max(0.0, time.time() - created_s))


@_swallow
def run_finished(status: str, created_s: float) -> None:
    metrics.RUN_DURATION.labels(status=status).observe(max(0.0, time.time() - created_s))


@_swallow
def left_requires_action(entered_at: float) -> None:
    metrics.REQUIRES_ACTION_TIME.observe(max(0.0, time.time() - entered_at))


@_swallow
def tokens(model: str, prompt: int, completion: int) -> None:
    metrics.TOKENS.labels(model=model, kind="prompt").inc(prompt)
    metrics.TOKENS.labels(model=model, kind="completion").inc(completion)


@_swallow
def model_error(kind: str) -> None:
    metrics.MODEL_ERRORS.labels(kind=kind).inc()


@_swallow
def http_request(method: str, route: str, status: int, seconds: float) -> None:
    metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    metrics.HTTP_DURATION.labels(method=method, route=route).observe(seconds)


@contextmanager
def timed(histogram: Any) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


@contextmanager
def tool_call(tool_type: str) -> Iterator[dict[str, str]]:
    """Times a tool call; the body sets `outcome` in the yielded dict (default `error` if it raises)."""
    result = {"outcome": "error"}
    started = time.perf_counter()
    try:
        yield result
    finally:
        metrics.TOOL_DURATION.labels(type=tool_type).observe(time.perf_counter() - started)
        metrics.TOOL_CALLS.labels(type=tool_type, outcome=result["outcome"]).inc()
