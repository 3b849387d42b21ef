"""The sandbox behind the API: a real `orchestrator up`, the mock model asked to run the attacker's code.

What the tester did (reach the stack's Redis, read the worker's model key) is tried through the official SDK; and a
stack whose bubblewrap does not work fails such runs with server_error and the refusal instead of running the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import openai
import pytest
from openai.types.beta.threads import Run

from tests.stack import Stack, running_stack
from workers.tools.code_interpreter.tasks import UNAVAILABLE_MESSAGE

pytestmark = pytest.mark.e2e

MODEL_KEY = "sk-model-key-the-sandbox-must-not-see"
ATTACK = """
import os, socket
for port in ({redis_port}, {api_port}):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=3).close()
        print(port, 'connected')
    except OSError as exc:
        print(port, type(exc).__name__)
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        print(pid, open(f'/proc/{{pid}}/environ', 'rb').read())
    except OSError:
        pass
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("sandbox-stack"), env={"ORCH_MODEL_API_KEY": MODEL_KEY}) as running:
        yield running


@pytest.fixture(scope="module")
def refusing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_CODE_SANDBOX_BWRAP": "/nonexistent/bwrap"}
    with running_stack(tmp_path_factory.mktemp("refusing-stack"), env=env) as running:
        yield running


def run_code(client: openai.OpenAI, code: str) -> Run:
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    return client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": f"[[code {code}]]"}]},
        poll_interval_ms=100,
    )


def code_logs(client: openai.OpenAI, run: Run) -> str:
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=run.thread_id)
    logs = []
    for step in steps:
        if step.step_details.type == "tool_calls":
            for call in step.step_details.tool_calls:
                if call.type == "code_interpreter":
                    logs += [o.logs for o in call.code_interpreter.outputs if o.type == "logs"]
    return "".join(logs)


def test_code_reaches_neither_the_stacks_redis_nor_its_api_nor_the_model_key(stack: Stack) -> None:
    redis_port = urlsplit(stack.redis_url).port
    api_port = urlsplit(stack.base_url).port
    with stack.client() as client:
        run = run_code(client, ATTACK.format(redis_port=redis_port, api_port=api_port))
        assert run.status == "completed", run.last_error
        logs = code_logs(client, run)
    assert f"{redis_port} ConnectionRefusedError" in logs or f"{redis_port} OSError" in logs, logs
    assert "connected" not in logs
    assert MODEL_KEY not in logs
    assert "ORCH_" not in logs


def test_without_isolation_the_run_fails_with_the_refusal(refusing_stack: Stack) -> None:
    with refusing_stack.client() as client:
        run = run_code(client, "print('this must not run')")
        assert run.status == "failed"
        assert run.last_error is not None
        assert (run.last_error.code, run.last_error.message) == ("server_error", UNAVAILABLE_MESSAGE)
        assert "this must not run" not in code_logs(client, run)
