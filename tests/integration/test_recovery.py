"""Crash recovery on a real stack: a worker process SIGKILLed mid-run, and its run still ends, exactly once.

Leases are short here (2 s) so that a lapse is seen in seconds; the code under test is the one deployed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
import redis

from orchestrator.store import Keys
from tests.stack import KEY_A, PROJECT_A, Stack, running_stack

LEASE_S = 2


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_RUN_LEASE_S": str(LEASE_S), "ORCH_TASK_RESEND_AFTER_S": "3", "ORCH_SWEEP_INTERVAL_S": "0.2"}
    with running_stack(tmp_path_factory.mktemp("crash"), env=env, args=("--run-workers", "2")) as running:
        yield running


@pytest.fixture(scope="module")
def client(crash_stack: Stack) -> Iterator[openai.OpenAI]:
    with crash_stack.client(KEY_A) as sdk:
        yield sdk


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def run_fields(stack: Stack, thread_id: str, run_id: str) -> dict[str, str]:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        fields: dict[str, str] = client.hgetall(Keys(stack.key_prefix).run(PROJECT_A, thread_id, run_id))  # type: ignore[assignment]
        return fields
    finally:
        client.close()


def pids_of(stack: Stack, role: str) -> list[int]:
    state = json.loads((stack.data_dir / "children.json").read_text())
    return [c["pid"] for c in state["children"] if c["role"] == role and c["pid"]]


def finished(client: openai.OpenAI, thread_id: str, run_id: str) -> Any:
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    return run if run.status in ("completed", "failed", "cancelled", "expired", "incomplete") else None


def test_a_run_whose_worker_is_killed_completes_on_another(client: openai.OpenAI, crash_stack: Stack) -> None:
    assistant = client.beta.assistants.create(model="mock")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[wait 3]] [[text recovered]]"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    claimed = wait_for(lambda: run_fields(crash_stack, thread.id, run.id).get("claimed_by"), "a worker's claim")
    victim = int(claimed.rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)  # before the model's first token: nothing was streamed yet
    done = wait_for(lambda: finished(client, thread.id, run.id), "the run to end", timeout_s=45)
    assert done.status == "completed", done.last_error
    fields = run_fields(crash_stack, thread.id, run.id)
    assert int(fields["claimed_by"].rsplit(":", 1)[1]) != victim
    assert fields["recoveries"] == "1"
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content[0].text.value == "recovered"  # type: ignore[union-attr]
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    assert [s.type for s in steps] == ["message_creation"]


def test_a_code_call_whose_tool_worker_is_killed_runs_again_and_is_recorded_once(
    client: openai.OpenAI, crash_stack: Stack
) -> None:
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    code = "import time; time.sleep(3); print('slept')"
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"[[code {code}]]"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    (victim,) = pids_of(crash_stack, "worker-code-interpreter")

    def claimed() -> bool:
        step = run_fields(crash_stack, thread.id, run.id).get("parked_step")
        if not step:
            return False
        r = redis.Redis.from_url(crash_stack.redis_url, decode_responses=True)
        try:
            return bool(r.hlen(Keys(crash_stack.key_prefix).tool_claims(PROJECT_A, thread.id, step)))
        finally:
            r.close()

    wait_for(claimed, "the tool worker's claim on the call")
    os.kill(victim, signal.SIGKILL)
    done = wait_for(lambda: finished(client, thread.id, run.id), "the run to end", timeout_s=60)
    assert done.status == "completed", done.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    (call,) = steps[0].step_details.tool_calls  # type: ignore[union-attr]
    assert [o.logs for o in call.code_interpreter.outputs] == ["slept\n"]  # type: ignore[union-attr]
    assert pids_of(crash_stack, "worker-code-interpreter") != [victim]  # the supervisor restarted the pool
