"""`make_celery(settings)`: the Celery app with one queue per pool and thin tasks that call domain code."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery
from kombu import Queue

from orchestrator import observe
from orchestrator.domain.tools import SERVER_TOOLS
from orchestrator.services.dispatch import EXECUTE_RUN_TASK, RUNS_QUEUE, tool_task_name
from orchestrator.settings import Settings
from workers.runtime import Runtime
from workers.tools.code_interpreter.tasks import execute_code, limits_from
from workers.tools.file_search.search import search
from workers.tools.results import record_result

#: pool name -> (queue, Celery pool implementation, default concurrency). Runs and tools are I/O bound
#: (model calls, child processes), so threads serve many at once in one process.
POOLS: dict[str, tuple[str, str, int]] = {
    "runs": (RUNS_QUEUE, "threads", 32),
    "code_interpreter": (SERVER_TOOLS["code_interpreter"][0], "threads", 4),
    "file_search": (SERVER_TOOLS["file_search"][0], "threads", 4),
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("orchestrator", broker=settings.celery_broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # Tasks are idempotent (claims are keyed on a dispatch token), so a task is acknowledged only after it
        # ran and a worker lost mid-task gets it redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_queues=[Queue(queue) for queue, _, _ in POOLS.values()],
        task_default_queue=RUNS_QUEUE,
        broker_transport_options=settings.celery_transport_options(),
    )
    runtime = Runtime(settings=settings, app=app)

    @app.task(name=EXECUTE_RUN_TASK, bind=True)
    def execute_run(task: Any, project: str, thread_id: str, run_id: str, token: str) -> str:
        with structlog.contextvars.bound_contextvars(
            project=project, thread_id=thread_id, run_id=run_id, task_id=task.request.id
        ):
            return runtime.executor.execute(project, thread_id, run_id, token)

    @app.task(name=tool_task_name("code_interpreter"), bind=True)
    def code_interpreter(task: Any, payload: dict[str, Any]) -> str:
        with _tool_context(task, payload), observe.tool_call("code_interpreter") as outcome:
            result = execute_code(payload["argument"], limits_from(settings))
            outcome["outcome"] = "ok" if result.get("exit_code") == 0 else "code_error"
            return record_result(runtime.store, runtime.dispatcher, payload, result, "code_interpreter")

    @app.task(name=tool_task_name("file_search"), bind=True)
    def file_search(task: Any, payload: dict[str, Any]) -> str:
        with _tool_context(task, payload), observe.tool_call("file_search") as outcome:
            result = search(payload["argument"])
            outcome["outcome"] = "unavailable" if result.get("error") else "ok"
            return record_result(runtime.store, runtime.dispatcher, payload, result, "file_search")

    app.conf.orchestrator_runtime = runtime
    return app


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
