"""`make_celery(settings)`: the Celery app with one queue per pool and thin tasks that call domain code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import redis
import structlog
from celery import Celery

from orchestrator import broker, observe
from orchestrator.domain.models import JSON
from orchestrator.domain.tools import SERVER_TOOLS
from orchestrator.services.dispatch import EXECUTE_RUN_TASK, INGEST_FILE_TASK, RUNS_QUEUE, tool_task_name
from orchestrator.settings import Settings
from orchestrator.vector_stores.embed import embedder_from_settings
from workers.runtime import Runtime
from workers.tools.claim import run_claimed
from workers.tools.code_interpreter.session import SessionStore
from workers.tools.code_interpreter.tasks import code_call, limits_from, run_call
from workers.tools.code_interpreter.tool import ProjectFiles
from workers.tools.file_search.ingest import ingest
from workers.tools.file_search.search import search
from workers.tools.file_search.tool import run_search
from workers.tools.results import record_result

#: pool name -> (queue, Celery pool implementation, default concurrency). Runs and tools are I/O bound
#: (model calls, child processes), so threads serve many at once in one process. A run waits on its model stream
#: (read by a thread of its own, workers/executor/readers.py) and costs CPU only per piece it gets, so one run
#: worker carries 256 runs in flight.
POOLS: dict[str, tuple[str, str, int]] = {
    "runs": (RUNS_QUEUE, "threads", 256),
    "code_interpreter": (SERVER_TOOLS["code_interpreter"][0], "threads", 4),
    "file_search": (SERVER_TOOLS["file_search"][0], "threads", 4),
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("orchestrator", broker=settings.celery_broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        # No broker traffic Celery does not need: no results (nor errors) stored, no task events sent.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        # Tasks are idempotent (claims are keyed on a dispatch token), so a task may be delivered twice. When it
        # is acknowledged depends on the broker (orchestrator/broker.py says why).
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # A worker whose broker connection drops reconnects for as long as it takes (Celery's default gives up
        # after 100 attempts and the worker exits): a broker outage must never end a worker process. On RabbitMQ
        # the worker's connection carries heartbeats (Celery's default interval, 120 s), so that either side
        # notices a dead connection without waiting for TCP.
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        # Tasks that are running when the broker connection drops go on: their leases, not the broker, decide who
        # owns a run (said explicitly, as Celery warns that its default will change).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        task_default_queue=RUNS_QUEUE,
        **broker.celery_conf(
            settings.celery_broker_url, [queue for queue, _, _ in POOLS.values()], settings.celery_transport_options()
        ),
        **broker.worker_conf(settings.celery_broker_url),
    )
    runtime = Runtime(settings=settings, app=app)

    @app.task(name=EXECUTE_RUN_TASK, bind=True, **_RETRY_WHILE_REDIS_IS_AWAY)
    def execute_run(task: Any, project: str, thread_id: str, run_id: str, token: str) -> str:
        with structlog.contextvars.bound_contextvars(
            project=project, thread_id=thread_id, run_id=run_id, task_id=task.request.id
        ):
            return runtime.executor.execute(project, thread_id, run_id, token)

    def execute_tool(payload: dict[str, Any], tool: str, work: Callable[[], JSON], outcome_of: OutcomeOf) -> str:
        def observed() -> JSON:
            with observe.tool_call(tool) as outcome:
                result = work()
                outcome["outcome"] = outcome_of(result)
                return result

        result = run_claimed(runtime.store, payload, settings.run_lease_s, observed)
        if result is None:
            return "skipped"
        return record_result(runtime.store, runtime.dispatcher, payload, result, tool)

    @functools.cache
    def code_sessions() -> SessionStore:
        return SessionStore(runtime.redis, runtime.store.keys, settings.code_session_idle_s)

    def code_files(payload: dict[str, Any]) -> ProjectFiles:
        return ProjectFiles(runtime.store, runtime.storage, payload["project"])

    @app.task(name=tool_task_name("code_interpreter"), bind=True, **_RETRY_WHILE_REDIS_IS_AWAY)
    def code_interpreter(task: Any, payload: dict[str, Any]) -> str:
        with _tool_context(task, payload):
            return execute_tool(
                payload,
                "code_interpreter",
                lambda: run_call(code_call(payload), limits_from(settings), code_files(payload), code_sessions()),
                lambda result: "ok" if result.get("exit_code") == 0 else "code_error",
            )

    @app.task(name=tool_task_name("file_search"), bind=True, **_RETRY_WHILE_REDIS_IS_AWAY)
    def file_search(task: Any, payload: dict[str, Any]) -> str:
        with _tool_context(task, payload):
            return execute_tool(
                payload,
                "file_search",
                lambda: run_search(
                    runtime.store, payload, functools.partial(search, embedder=embedder_from_settings(settings))
                ),
                lambda result: "error" if result.get("error") else "ok" if result.get("results") else "empty",
            )

    @app.task(name=INGEST_FILE_TASK, bind=True, **_RETRY_WHILE_REDIS_IS_AWAY)
    def ingest_file(task: Any, project: str, vector_store_id: str, file_id: str) -> str:
        with structlog.contextvars.bound_contextvars(
            project=project, vector_store_id=vector_store_id, file_id=file_id, task_id=task.request.id
        ):
            embedder = embedder_from_settings(settings)
            return ingest(runtime.store, runtime.storage, project, vector_store_id, file_id, embedder)

    app.conf.orchestrator_runtime = runtime
    return app


OutcomeOf = Callable[[JSON], str]

#: A task that fails because Redis is away is sent again with backoff rather than acknowledged and forgotten.
#: Every task is idempotent (dispatch tokens, tool claims), so a retry of work that did land does nothing. When the
#: broker is that same Redis the retry itself can fail; the sweeper's recovery (services/recovery.py) backs it up.
_RETRY_WHILE_REDIS_IS_AWAY: dict[str, Any] = {
    "autoretry_for": (redis.ConnectionError, redis.TimeoutError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 20,
}


def _tool_context(task: Any, payload: dict[str, Any]) -> Any:
    return structlog.contextvars.bound_contextvars(
        project=payload["project"],
        assistant_id=payload.get("assistant_id"),
        thread_id=payload["thread_id"],
        run_id=payload["run_id"],
        call_id=payload["call_id"],
        task_id=task.request.id,
    )


def worker_argv(pool: str, concurrency: int | None, hostname: str, log_level: str = "INFO") -> list[str]:
    queue, implementation, default = POOLS[pool]
    return [
        "--quiet",  # no banner: our own log lines say what started
        "worker",
        "--queues",
        queue,
        "--pool",
        implementation,
        "--concurrency",
        str(concurrency or default),
        "--hostname",
        hostname,
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        log_level.upper(),
    ]
