"""Every Prometheus metric, declared once. Base units, bounded labels: never a run, thread or project id.

Worker pools run several processes (and `uvicorn --workers`), so when `PROMETHEUS_MULTIPROC_DIR` is set every
process writes its samples there and `registry()` aggregates them for the exposition endpoint.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

RUNS_CREATED = Counter("orchestrator_runs_created_total", "Runs created.")
RUNS_STARTED = Counter("orchestrator_runs_started_total", "Runs claimed by a worker (queued -> in_progress).")
RUNS_FINISHED = Counter("orchestrator_runs_finished_total", "Runs that reached a terminal status.", ["status"])
RUNS_ACTIVE = Gauge(
    "orchestrator_runs_active",
    "Runs in each non-terminal status, as last counted by the sweeper.",
    ["status"],
    multiprocess_mode="mostrecent",
)
QUEUE_WAIT = Histogram(
    "orchestrator_run_queue_wait_seconds",
    "Time from a run's creation (or re-queue) to a worker claiming it.",
    buckets=_LATENCY_BUCKETS,
)
RUN_DURATION = Histogram(
    "orchestrator_run_duration_seconds",
    "Time from a run's creation to its terminal status.",
    ["status"],
    buckets=_LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "orchestrator_run_time_to_first_token_seconds",
    "Time from a run's creation to its first streamed delta.",
    buckets=_LATENCY_BUCKETS,
)
REQUIRES_ACTION_TIME = Histogram(
    "orchestrator_run_requires_action_seconds",
    "Time runs spent waiting for the client's tool outputs.",
    buckets=_LATENCY_BUCKETS,
)
TOKENS = Counter("orchestrator_tokens_total", "Tokens reported by the upstream model.", ["model", "kind"])
MODEL_REQUEST_DURATION = Histogram(
    "orchestrator_model_request_duration_seconds",
    "Upstream Chat Completions calls, first byte to last.",
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_FALLBACKS = Counter(
    "orchestrator_upstream_fallbacks_total",
    "Request parameters an upstream rejected and runs now do without (learned once per process and parameter).",
    ["param"],
)
MODEL_REASONING_DELTAS = Counter(
    "orchestrator_model_reasoning_deltas_total", "Reasoning deltas upstreams streamed beside answers (not shown)."
)
MODEL_ERRORS = Counter("orchestrator_model_errors_total", "Upstream model failures after retries.", ["kind"])
TOOL_CALLS = Counter("orchestrator_tool_calls_total", "Tool calls executed.", ["type", "outcome"])
TOOL_DURATION = Histogram(
    "orchestrator_tool_call_duration_seconds",
    "Server-side tool call execution time.",
    ["type"],
    buckets=_LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter("orchestrator_events_published_total", "Stream events published.", ["event"])
SSE_STREAMS_OPEN = Gauge("orchestrator_sse_streams_open", "SSE streams being served.", multiprocess_mode="livesum")
HTTP_REQUESTS = Counter("orchestrator_http_requests_total", "HTTP requests.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "orchestrator_http_request_duration_seconds",
    "HTTP request latency (to the first byte for streams).",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "orchestrator_queue_depth", "Celery messages waiting per queue.", ["queue"], multiprocess_mode="mostrecent"
)
WORKERS_ALIVE = Gauge(
    "orchestrator_workers_alive",
    "Worker processes with a fresh heartbeat per pool.",
    ["pool"],
    multiprocess_mode="mostrecent",
)
CHILD_RESTARTS = Counter(
    "orchestrator_child_restarts_total",
    "Child processes `orchestrator up` restarted after they died, per role.",
    ["role"],
)
RECOVERIES = Counter(
    "orchestrator_recoveries_total",
    "Runs the sweeper looked at for lost work, by what it did (handed_on, resent, tools_resent, failed, ...).",
    ["outcome"],
)
SWEEPER_SKIPPED_RUNS = Counter("orchestrator_sweeper_skipped_runs_total", "Due runs the sweeper could not process.")


def registry() -> CollectorRegistry:
    """The registry to expose: an aggregate over processes in multiprocess mode, else this process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    aggregate = CollectorRegistry()
    multiprocess.MultiProcessCollector(aggregate)  # type: ignore[no-untyped-call]
    return aggregate


def _initialise_label_sets() -> None:
    """Export the bounded label sets at zero from the start: a series that first appears at N is seen by
    Prometheus as no increase at all, so rate() would miss the first runs a process finishes."""
    for status in ("completed", "incomplete", "failed", "cancelled", "expired"):
        RUNS_FINISHED.labels(status=status)
        RUN_DURATION.labels(status=status)
    for tool in ("code_interpreter", "file_search"):
        TOOL_DURATION.labels(type=tool)
    for outcome in ("handed_on", "resent", "tools_resent", "failed", "cancelled"):
        RECOVERIES.labels(outcome=outcome)


_initialise_label_sets()
