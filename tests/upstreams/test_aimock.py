"""The official SDK against `orchestrator up` whose model endpoint is aimock, a second OpenAI-compatible server.

Its answers come from aimock/fixtures/upstream.json (matched on the user's words or on a tool result), streamed in
chunks of 20 characters, so these runs meet a stream written by other people than ours.
"""

from __future__ import annotations

import json

import openai
import pytest

from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, message_text
from tests.support import PLAIN_TEXT_ORDER, collapse

pytestmark = pytest.mark.e2e

GREETING = "Hello from aimock, streamed in chunks of twenty characters."


def test_streamed_and_polled_text(aimock_client: openai.OpenAI) -> None:
    assistant = aimock_client.beta.assistants.create(model="gpt-4o", name="via-aimock")
    thread = aimock_client.beta.threads.create(messages=[{"role": "user", "content": "hello aimock"}])
    handler = RecordingHandler()
    with aimock_client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert collapse(handler.event_names) == PLAIN_TEXT_ORDER
    assert "".join(handler.text_deltas) == GREETING
    run = aimock_client.beta.threads.runs.retrieve(handler.events[-1].data.id, thread_id=thread.id)  # type: ignore[union-attr]
    assert run.status == "completed" and run.usage is not None and run.usage.completion_tokens > 0
    (message,) = aimock_client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert message_text(message) == GREETING


def test_function_call_round_trip(aimock_client: openai.OpenAI) -> None:
    assistant = aimock_client.beta.assistants.create(model="gpt-4o", tools=[function_tool("get_weather")])
    thread = aimock_client.beta.threads.create(messages=[{"role": "user", "content": "weather in Paris?"}])
    run = aimock_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action", run.last_error
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    done = aimock_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18C and sunny"}],
        poll_interval_ms=POLL_MS,
    )
    assert done.status == "completed", done.last_error
    newest = aimock_client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    assert message_text(newest) == "It is 18C and sunny in Paris, according to the tool."


def test_unmatched_request_fails_the_run_with_aimocks_message(aimock_client: openai.OpenAI) -> None:
    """aimock answers a request no fixture matches with an OpenAI-shaped 404; the run fails and says why."""
    assistant = aimock_client.beta.assistants.create(model="gpt-4o")
    thread = aimock_client.beta.threads.create(messages=[{"role": "user", "content": "nothing matches this"}])
    run = aimock_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "failed"
    assert run.last_error is not None and "No fixture matched" in run.last_error.message
