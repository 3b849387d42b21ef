"""The seed example (OpenAI's math-tutor quickstart), on the embedded server and on a real Redis 7."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.helpers import RecordingHandler, message_text
from tests.stack import KEY_A, REPO_ROOT, Stack

pytestmark = pytest.mark.e2e

QUESTION = "I need to solve the equation '3x + 11 = 14'. Can you help me?"
SOLVER_CODE = "a, b, c = 3, 11, 14\nx = (c - b) / a\nprint(x)"
ANSWER = "The solution is x = 1.0. Checking: 3 * 1.0 + 11 = 14, as required."


@pytest.fixture(params=["embedded", "real_redis"])
def seed_stack(request: pytest.FixtureRequest) -> Stack:
    stack: Stack = request.getfixturevalue("stack" if request.param == "embedded" else "redis_stack")
    return stack


def test_math_tutor_streamed_with_event_handler(seed_stack: Stack) -> None:
    with seed_stack.client() as client:
        assistant = client.beta.assistants.create(
            name="Math Tutor",
            instructions="You are a personal math tutor. Write and run code to answer math questions.",
            tools=[{"type": "code_interpreter"}],
            model="gpt-4-turbo",
        )
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=QUESTION)
        handler = RecordingHandler()
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            instructions="Please address the user as Jane Doe. The user has a premium account.",
            event_handler=handler,
        ) as stream:
            stream.until_done()
            final_run = stream.get_final_run()
            final_messages = stream.get_final_messages()

        # The streamed text is the final message.
        streamed_text = "".join(handler.text_deltas)
        assert streamed_text == ANSWER
        assert handler.texts_done[-1] == ANSWER
        assert [message_text(m) for m in final_messages] == [ANSWER]

        # The code_interpreter call: created once, its input streamed, its output logged.
        assert [call.type for call in handler.tool_calls_created] == ["code_interpreter"]
        assert "".join(handler.tool_input_deltas) == SOLVER_CODE
        done = handler.tool_calls_done[0]
        assert done.type == "code_interpreter"
        assert done.code_interpreter.input == SOLVER_CODE
        logs = [o.logs for o in done.code_interpreter.outputs if o.type == "logs"]
        assert [log.strip() for log in logs] == ["1.0"]

        assert final_run.status == "completed"
        assert final_run.instructions == "Please address the user as Jane Doe. The user has a premium account."
        assert final_run.usage is not None
        assert final_run.usage.total_tokens == final_run.usage.prompt_tokens + final_run.usage.completion_tokens > 0
        assert final_run.completed_at is not None
        assert final_run.expires_at is None

        # Non-streaming parity (§7.7): the run, its message and its steps are all retrievable afterwards.
        fetched = client.beta.threads.runs.retrieve(final_run.id, thread_id=thread.id)
        assert (fetched.status, fetched.usage) == ("completed", final_run.usage)
        messages = client.beta.threads.messages.list(thread_id=thread.id, run_id=final_run.id).data
        assert len(messages) == 1
        assert (messages[0].role, messages[0].status, message_text(messages[0])) == ("assistant", "completed", ANSWER)
        assert (messages[0].run_id, messages[0].assistant_id) == (final_run.id, assistant.id)
        assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 2

        steps = client.beta.threads.runs.steps.list(run_id=final_run.id, thread_id=thread.id, order="asc").data
        # The mock answers the equation with a bare tool call (no text preamble), so there is no leading
        # message_creation step: tool_calls, then the answer's message_creation.
        assert [(s.type, s.status) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
        tool_step, message_step = steps
        assert tool_step.step_details.type == "tool_calls"
        (call,) = tool_step.step_details.tool_calls
        assert call.type == "code_interpreter"
        assert call.id == done.id
        assert call.code_interpreter.input == SOLVER_CODE
        assert [(o.type, getattr(o, "logs", "").strip()) for o in call.code_interpreter.outputs] == [("logs", "1.0")]
        assert message_step.step_details.type == "message_creation"
        assert message_step.step_details.message_creation.message_id == messages[0].id
        assert all(s.usage is not None for s in steps)


def test_math_tutor_example_script(seed_stack: Stack) -> None:
    """`examples/math_tutor.py` itself, unchanged, prints the code, its output and the answer."""
    result = subprocess.run(
        [sys.executable, "examples/math_tutor.py", "--base-url", seed_stack.base_url, "--api-key", KEY_A],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "assistant > code_interpreter" in out
    assert SOLVER_CODE in out
    assert "output >" in out and "\n1.0\n" in out
    assert out.rstrip().endswith(f"assistant > {ANSWER}")
