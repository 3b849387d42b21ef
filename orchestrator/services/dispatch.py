"""Sending work to the worker pools by task name, so the API never imports the workers package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from celery import Celery

from orchestrator import broker
from orchestrator.domain.tools import SERVER_TOOLS
from orchestrator.services import kombu_redis

EXECUTE_RUN_TASK = "orchestrator.runs.execute"
#: Parse, chunk, embed and index one file of a vector store; runs in the file_search pool.
INGEST_FILE_TASK = "orchestrator.vector_stores.ingest"
RUNS_QUEUE = "runs"
#: Each worker pool and the one Celery queue it consumes.
POOL_QUEUES: dict[str, str] = {"runs": RUNS_QUEUE, **{tool: queue for tool, (queue, _) in SERVER_TOOLS.items()}}


def tool_task_name(tool_type: str) -> str:
    return f"orchestrator.tools.{tool_type}"


class Dispatcher(Protocol):
    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None: ...

    def run_tool(self, tool_type: str, payload: dict[str, Any]) -> None: ...

    def ingest_file(self, project: str, vector_store_id: str, file_id: str) -> None: ...


class CeleryDispatcher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None:
        kwargs = {"project": project, "thread_id": thread_id, "run_id": run_id, "token": token}
        # The message's argsrepr/kwargsrepr headers given as they are: Celery's default `saferepr` of the same
        # few strings costs about 0.15 ms per run.
        self.app.send_task(EXECUTE_RUN_TASK, kwargs=kwargs, queue=RUNS_QUEUE, argsrepr="()", kwargsrepr=repr(kwargs))

    def run_tool(self, tool_type: str, payload: dict[str, Any]) -> None:
        self.app.send_task(tool_task_name(tool_type), kwargs={"payload": payload}, queue=SERVER_TOOLS[tool_type][0])

    def ingest_file(self, project: str, vector_store_id: str, file_id: str) -> None:
        self.app.send_task(
            INGEST_FILE_TASK,
            kwargs={"project": project, "vector_store_id": vector_store_id, "file_id": file_id},
            queue=SERVER_TOOLS["file_search"][0],
        )


def make_producer(broker_url: str, redis_options: Mapping[str, str | int]) -> Celery:
    """A Celery app that only sends tasks (the API's and the sweeper's side), declaring the queues as the workers do.

    Its broker connections send no heartbeats (Celery's producers never do): RabbitMQ does not close a quiet
    connection that negotiated none, and a connection that did die is re-opened by the publish retry."""
    app = Celery("orchestrator-producer", broker=broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        task_default_queue=RUNS_QUEUE,
        **broker.celery_conf(broker_url, POOL_QUEUES.values(), redis_options),
    )
    if urlsplit(broker_url).scheme == "redis":
        app.conf.broker_transport = kombu_redis.Transport  # one client per channel for sending, not one per send
    return app
