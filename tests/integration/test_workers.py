"""Real Celery worker processes on a real server (the embedded Valkey `orchestrator up` starts), driven by the SDK:
each run executes exactly once across two run workers, and every counter moves by exactly the number of runs."""

from __future__ import annotations

from typing import Any

import openai
import pytest
import redis

from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate
from orchestrator.services import assistants, runs, threads
from orchestrator.services.dispatch import CeleryDispatcher, make_producer
from orchestrator.store import Keys, RedisStore
from tests.stack import PROJECT_A, Stack

pytestmark = pytest.mark.integration
N_RUNS = 12


def _run_math(client: openai.OpenAI, assistant_id: str) -> tuple[str, str]:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 2x + 4 = 10 please"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    return thread.id, run.id


def test_runs_execute_exactly_once_and_counters_move_by_n(stack: Stack) -> None:
    client = stack.client(max_retries=0)
    names = ("orchestrator_runs_created_total", "orchestrator_runs_started_total")
    before = {name: stack.metric(name) for name in names}
    finished_before = stack.metric("orchestrator_runs_finished_total", status="completed")
    tools_before = stack.metric("orchestrator_tool_calls_total", type="code_interpreter", outcome="ok")
    ci_events_before = stack.metric("orchestrator_events_published_total", event="thread.run.completed")
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        done = list(pool.map(lambda _: _run_math(client, assistant.id), range(N_RUNS)))

    for name in names:
        assert stack.metric(name) - before[name] == N_RUNS, name
    assert stack.metric("orchestrator_runs_finished_total", status="completed") - finished_before == N_RUNS
    assert stack.metric("orchestrator_tool_calls_total", type="code_interpreter", outcome="ok") - tools_before == N_RUNS
    assert stack.metric("orchestrator_events_published_total", event="thread.run.completed") - ci_events_before == (
        N_RUNS
    )
    assert stack.metric("orchestrator_run_queue_wait_seconds_count") >= N_RUNS
    assert stack.metric("orchestrator_run_time_to_first_token_seconds_count") >= N_RUNS

    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    claimed_by = set()
    for thread_id, run_id in done:
        keys = list(r.scan_iter(match=f"*:{{{thread_id}}}:run:{run_id}"))
        assert len(keys) == 1
        claimed_by.add(r.hget(keys[0], "claimed_by"))
        events = [fields["e"] for _, fields in r.xrange(f"{keys[0]}:events") or [] if fields]
        # queued -> in_progress once at first, and once more after the code ran: never twice for one dispatch
        assert events.count("thread.run.in_progress") == 1
        assert events.count("thread.run.completed") == 1
        assert events.count("thread.message.created") == 1
        messages = client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id)
        assert len(messages.data) == 1
    assert len(claimed_by) == 2, f"both run workers should have taken runs, got {claimed_by}"


class TwiceDispatcher:
    """Sends every task twice, as a broker redelivering after a lost acknowledgement would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None:
        self.inner.execute_run(project, thread_id, run_id, token)
        self.inner.execute_run(project, thread_id, run_id, token)

    def run_tool(self, tool_type: str, payload: dict[str, Any]) -> None:
        self.inner.run_tool(tool_type, payload)
        self.inner.run_tool(tool_type, payload)

    def ingest_file(self, project: str, vector_store_id: str, file_id: str) -> None:
        self.inner.ingest_file(project, vector_store_id, file_id)
        self.inner.ingest_file(project, vector_store_id, file_id)


def test_tasks_delivered_twice_run_once(stack: Stack) -> None:
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    store = RedisStore(r, Keys(stack.key_prefix))
    dispatcher = TwiceDispatcher(CeleryDispatcher(make_producer(stack.redis_url, {})))
    assistant = assistants.create(store, PROJECT_A, AssistantCreate(model="mock", tools=[{"type": "code_interpreter"}]))
    started = []
    for _ in range(4):
        thread = threads.create_thread(store, PROJECT_A, None)
        threads.add_message(store, PROJECT_A, thread.id, MessageCreate(role="user", content="Solve 3x + 3 = 9"))
        started.append(
            runs.create_run(
                store, dispatcher, PROJECT_A, thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600
            ).run
        )
    client = stack.client(max_retries=0)
    for run in started:
        final = client.beta.threads.runs.poll(run.id, thread_id=run.thread_id, poll_interval_ms=50)
        assert final.status == "completed"
        events = [e.event for e in store.events(PROJECT_A, run.thread_id, run.id)]
        assert events.count("thread.run.in_progress") == 1
        assert events.count("thread.run.step.created") == 2  # one tool step, one message step
        assert events.count("thread.message.created") == 1
        step_ids = store.all_ids(store.keys.steps(PROJECT_A, run.thread_id, run.id))
        (tool_step, _) = store.get_steps(PROJECT_A, run.thread_id, step_ids)
        outputs = tool_step.tool_calls()[0]["code_interpreter"]["outputs"]
        assert outputs == [{"type": "logs", "logs": "2.0\n"}]  # the code ran twice, its output was kept once
