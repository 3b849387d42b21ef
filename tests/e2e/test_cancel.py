"""Cancelling runs (mid-stream, in requires_action, after completion) and the busy-thread 400s."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.types.beta import Assistant
from openai.types.beta.threads import Run

from tests.e2e.helpers import (
    POLL_MS,
    error_message,
    function_tool,
    make_assistant,
    message_text,
    wait_for_status,
)
from tests.stack import Stack

pytestmark = pytest.mark.e2e

SLOW_LONG = "[[slow 0.2]] [[long 200]]"  # 200 words, 0.2 s apart: ~40 s unless cancelled


@pytest.fixture(scope="module")
def assistant(client: openai.OpenAI) -> Assistant:
    return make_assistant(client, function_tool("lookup"), name="cancel")


def test_cancel_mid_stream(client: openai.OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": SLOW_LONG}])
    names: list[str] = []
    streamed = ""
    cancel_response: Run | None = None
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta":
                streamed += "".join(
                    p.text.value or "" for p in event.data.delta.content or [] if p.type == "text" and p.text
                )
            if event.event == "thread.message.delta" and cancel_response is None:
                current = stream.current_run
                assert current is not None and current.status == "in_progress"
                cancel_response = client.beta.threads.runs.cancel(current.id, thread_id=thread.id)
        final = stream.get_final_run()
        (snapshot,) = stream.get_final_messages()
    assert cancel_response is not None
    # The API re-reads the run after notifying the worker, so a fast worker may already have finished the cancel.
    assert cancel_response.status in ("cancelling", "cancelled")
    assert names[-1] == "thread.run.cancelled"
    assert final.status == "cancelled" and final.cancelled_at is not None
    # The cancel tail of §7.4.E: cancelling, then the open step and message closed, then cancelled.
    tail = names[names.index("thread.run.cancelling") :]
    assert set(tail) >= {"thread.run.step.cancelled", "thread.message.incomplete"}
    assert tail[-1] == "thread.run.cancelled"
    assert names.count("thread.message.delta") < 100  # it really stopped early

    run = client.beta.threads.runs.retrieve(final.id, thread_id=thread.id)
    assert run.status == "cancelled" and run.expires_at is None
    (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert message.status == "incomplete"
    assert message.incomplete_details is not None and message.incomplete_details.reason == "run_cancelled"
    # The text the client already received is kept, in the incomplete event and in the stored message.
    full_answer = " ".join(f"word{i}" for i in range(1, 201))
    kept = message_text(message)
    assert streamed and kept.startswith(streamed) and full_answer.startswith(kept)
    assert snapshot.status == "incomplete" and message_text(snapshot) == kept
    (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    assert (step.type, step.status) == ("message_creation", "cancelled")
    assert step.cancelled_at is not None
    # The thread is free again.
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="after the cancel")


def test_cancel_requires_action_is_immediate(client: openai.OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[call lookup {}]]"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action"
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled"  # nobody executes it, so it is cancelled in the same request
    assert cancelled.required_action is None and cancelled.cancelled_at is not None
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "cancelled"
    (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    assert (step.type, step.status) == ("tool_calls", "cancelled")
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "x", "output": "y"}]
        )


def test_cancel_completed_run_is_400(client: openai.OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text done]]"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed"
    with pytest.raises(openai.BadRequestError) as error:
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert error.value.status_code == 400
    assert "completed" in error.value.message
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "completed"


def test_busy_thread_rejects_runs_and_messages_without_retry(stack: Stack, assistant: Assistant) -> None:
    requests: list[tuple[str, str, str | None]] = []

    def record(request: httpx2.Request) -> None:
        requests.append((request.method, request.url.path, request.headers.get("x-stainless-retry-count")))

    http = openai.DefaultHttpxClient(event_hooks={"request": [record]})
    with stack.client(max_retries=2, http_client=http) as client:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": SLOW_LONG}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "queued"

        requests.clear()
        with pytest.raises(openai.BadRequestError) as second_run:
            client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        assert second_run.value.status_code == 400
        assert error_message(second_run.value) == f"Thread {thread.id} already has an active run {run.id}."
        assert requests == [("POST", f"/v1/threads/{thread.id}/runs", "0")]

        requests.clear()
        with pytest.raises(openai.BadRequestError) as message:
            client.beta.threads.messages.create(thread_id=thread.id, role="user", content="more")
        assert error_message(message.value) == f"Can't add messages to {thread.id} while a run {run.id} is active."
        assert requests == [("POST", f"/v1/threads/{thread.id}/messages", "0")]

        # Neither request left a trace: one run, one message.
        assert [r.id for r in client.beta.threads.runs.list(thread_id=thread.id)] == [run.id]
        assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 1

        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
        assert wait_for_status(client, run, {"cancelled", "completed", "failed"}).status == "cancelled"


def test_cancel_while_the_model_is_silent_stops_within_seconds(client: openai.OpenAI, assistant: Assistant) -> None:
    """The model has not sent a token yet (it waits 30 s): the worker's model call is closed through the control
    channel rather than at its next write."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[wait 30]] hello"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    wait_for_status(client, run, {"in_progress"})
    assert client.beta.threads.runs.cancel(run.id, thread_id=thread.id).status == "cancelling"
    cancelled = wait_for_status(client, run, {"cancelled"}, timeout_s=5)
    assert cancelled.cancelled_at is not None
    assert client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data == []
