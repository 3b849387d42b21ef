"""How runs end when the model fails, runs out of tokens or calls a server tool that is not available."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant

from orchestrator.mockmodel.script import NOTHING_FOUND
from tests.e2e.helpers import POLL_MS, make_assistant, message_text

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(client: openai.OpenAI) -> Assistant:
    return make_assistant(client, name="outcomes")


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "rate_limit_exceeded"), (500, "server_error"), (400, "invalid_prompt")],
)
def test_upstream_error_fails_the_run(client: openai.OpenAI, assistant: Assistant, status: int, code: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": f"[[error {status}]]"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == code
    assert f"mock error {status}" in run.last_error.message
    assert run.failed_at is not None and run.expires_at is None
    # The thread is released for the next run.
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="again")


def test_max_completion_tokens_makes_the_run_incomplete(client: openai.OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[long 600]]"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256, poll_interval_ms=POLL_MS
    )
    assert run.status == "incomplete"
    assert run.incomplete_details is not None and run.incomplete_details.reason == "max_completion_tokens"
    assert run.max_completion_tokens == 256
    assert run.usage is not None and run.usage.completion_tokens <= 256
    (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert message.status == "incomplete"
    assert message.incomplete_details is not None and message.incomplete_details.reason == "max_tokens"
    words = message_text(message).split()
    assert len(words) == 256 and words[-1] == "word256"


def test_file_search_without_vector_stores_finds_nothing_and_says_so(client: openai.OpenAI) -> None:
    searcher = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": '[[call file_search {"query":"x"}]]'}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=searcher.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed"
    assert run.required_action is None  # a server tool never asks the client
    step = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data[0]
    assert (step.type, step.status) == ("tool_calls", "completed")
    assert step.step_details.type == "tool_calls"
    (call,) = step.step_details.tool_calls
    assert call.type == "file_search" and call.file_search.results == []
    (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert message_text(message) == NOTHING_FOUND
