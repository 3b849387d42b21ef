"""Runs left in requires_action past `expires_at` are expired by the sweeper (a stack with a 3 s expiry)."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import EXPIRY_S
from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, make_assistant, message_text, wait_for_status
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def test_run_in_requires_action_expires(expiry_stack: Stack) -> None:
    with expiry_stack.client() as client:
        assistant = make_assistant(client, function_tool("never_answered"), name="expiry")
        # A run that finishes in time is never expired (and it warms the worker up for the run below).
        quick = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "[[text quick]]"}]},
            poll_interval_ms=POLL_MS,
        )
        assert quick.status == "completed" and quick.expires_at is None

        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[call never_answered {}]]"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
        )
        assert run.status == "requires_action", "the run must reach requires_action before it expires"
        assert run.expires_at == run.created_at + EXPIRY_S

        expired = wait_for_status(client, run, {"expired", "cancelled", "failed", "completed"}, timeout_s=EXPIRY_S + 10)
        assert expired.status == "expired"
        assert expired.required_action is None and expired.expires_at is None
        (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
        assert (step.type, step.status) == ("tool_calls", "expired")
        assert step.expired_at is not None and step.expired_at >= run.created_at + EXPIRY_S

        assert step.step_details.type == "tool_calls"
        (call,) = step.step_details.tool_calls
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.submit_tool_outputs(
                run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "too late"}]
            )
        # The expired run no longer holds the thread.
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="still there?")
        # Well past its own creation + expiry, the run that finished in time is still completed.
        assert client.beta.threads.runs.retrieve(quick.id, thread_id=quick.thread_id).status == "completed"


def test_run_expiring_mid_message_keeps_the_streamed_text(expiry_stack: Stack) -> None:
    with expiry_stack.client() as client:
        assistant = make_assistant(client, name="expiry-mid-message")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[slow 0.3]] [[long 50]]"}])
        handler = RecordingHandler()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as s:
            s.until_done()
            run = s.get_final_run()
        assert run.status == "expired"
        assert handler.event_names[-3:] == [
            "thread.run.step.expired",
            "thread.message.incomplete",
            "thread.run.expired",
        ]
        (message,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
        assert message.incomplete_details is not None and message.incomplete_details.reason == "run_expired"
        assert message_text(message).startswith("".join(handler.text_deltas)) and handler.text_deltas
