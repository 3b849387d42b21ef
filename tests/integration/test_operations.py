"""What an operator relies on, checked on a running stack: log lines with their context and without secrets,
and `orchestrator status`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.conftest import MODEL_KEY
from tests.stack import KEY_A, KEY_B, Stack

pytestmark = pytest.mark.integration


def _finished_run(stack: Stack) -> str:
    client = stack.client(max_retries=0)
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 5x + 5 = 20"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "completed"
    return run.id


def test_run_log_lines_carry_their_context_and_no_secret(stack: Stack) -> None:
    run_id = _finished_run(stack)
    text = (stack.data_dir / "stack.log").read_text()
    for secret in (KEY_A, KEY_B, MODEL_KEY):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{") and run_id in line]
    events = {line["event"] for line in lines}
    assert {"run.awaiting_tools", "tool.recorded", "run.finished"} <= events
    for line in lines:
        if line["event"] in ("run.awaiting_tools", "tool.recorded", "run.finished"):
            assert {"run_id", "thread_id", "assistant_id", "project", "task_id"} <= line.keys(), line
    api_lines = [json.loads(line) for line in text.splitlines() if '"http.request"' in line]
    assert api_lines and all(line["request_id"].startswith("req_") for line in api_lines)


def test_status_reports_queues_pools_and_runs(stack: Stack) -> None:
    output = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--json", "--redis-url", stack.redis_url],
        capture_output=True,
        text=True,
        check=True,
        env={"ORCH_KEY_PREFIX": stack.key_prefix, "PATH": "/usr/bin"},
    ).stdout
    report = json.loads(output)
    assert set(report["queues"]) == {"runs", "tools.code_interpreter", "tools.file_search"}
    assert report["workers"] == {"runs": 2, "code_interpreter": 1, "file_search": 1}
    assert set(report["runs"]) == {"queued", "in_progress", "requires_action", "cancelling"}
    table = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--redis-url", stack.redis_url],
        capture_output=True,
        text=True,
        check=True,
        env={"ORCH_KEY_PREFIX": stack.key_prefix, "PATH": "/usr/bin"},
    ).stdout
    assert "Every pool has a live worker." in table and "tools.code_interpreter" in table
