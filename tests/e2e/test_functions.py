"""Function calling: requires_action, tool outputs (streamed and polled), the §10.3.B callbacks, and the 400s."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.beta import Assistant
from openai.types.beta.threads import Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, make_assistant, message_text
from tests.support import PLAIN_TEXT_ORDER, collapse

pytestmark = pytest.mark.e2e

TWO_CALLS = 'What is it like? [[call get_weather {"city":"Paris"}]] [[call get_time {"tz":"CET"}]]'
OUTPUTS = {"get_weather": "18C and sunny", "get_time": "12:34"}


@pytest.fixture(scope="module")
def assistant(client: openai.OpenAI) -> Assistant:
    return make_assistant(client, function_tool("get_weather"), function_tool("get_time"), name="functions")


def _thread(client: openai.OpenAI, text: str = TWO_CALLS) -> str:
    return client.beta.threads.create(messages=[{"role": "user", "content": text}]).id


def _outputs(run: Run) -> list[ToolOutput]:
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [{"tool_call_id": call.id, "output": OUTPUTS[call.function.name]} for call in calls]


def _polled_until_requires_action(client: openai.OpenAI, assistant: Assistant) -> tuple[str, Run]:
    """A run created with `create_and_poll`, which stops at requires_action with the two calls."""
    thread_id = _thread(client)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    _assert_requires_two_calls(run)
    return thread_id, run


def _assert_requires_two_calls(run: Run) -> None:
    assert run.status == "requires_action"
    assert run.required_action is not None and run.required_action.type == "submit_tool_outputs"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}),
        ("function", "get_time", {"tz": "CET"}),
    ]
    assert len({c.id for c in calls}) == 2
    assert run.usage is None  # not terminal yet


def test_streamed_parallel_calls_then_streamed_outputs(client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id = _thread(client)
    handler = RecordingHandler()
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
        run = s.get_final_run()
    _assert_requires_two_calls(run)
    assert run.required_action is not None
    call_a, call_b = (c.id for c in run.required_action.submit_tool_outputs.tool_calls)

    # §7.4.B on the wire: the stream stops at requires_action, with the tool step still open.
    assert collapse(handler.event_names) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.requires_action",
    ]
    # §10.3.B callbacks: created(A), deltas of A, done(A), created(B), deltas of B, done(B) at requires_action.
    tool_callbacks = [(name, ident) for name, ident in handler.calls if "tool_call" in name]
    assert collapse([f"{name}:{ident}" for name, ident in tool_callbacks]) == [
        f"on_tool_call_created:{call_a}",
        f"on_tool_call_delta:{call_a}",
        f"on_tool_call_done:{call_a}",
        f"on_tool_call_created:{call_b}",
        f"on_tool_call_delta:{call_b}",
        f"on_tool_call_done:{call_b}",
    ]
    assert handler.callback_names()[0] == "on_run_step_created"
    # The accumulated snapshots carry exactly the arguments the model streamed in fragments.
    done = {c.id: c for c in handler.tool_calls_done}
    done_a, done_b = done[call_a], done[call_b]
    assert done_a.type == "function" and json.loads(done_a.function.arguments) == {"city": "Paris"}
    assert done_b.type == "function" and json.loads(done_b.function.arguments) == {"tz": "CET"}
    assert done_a.function.output is None

    # While waiting, the step is persisted in_progress with no outputs yet.
    (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id).data
    assert (step.type, step.status) == ("tool_calls", "in_progress")

    follow = RecordingHandler()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        tool_outputs=_outputs(run), run_id=run.id, thread_id=thread_id, event_handler=follow
    ) as s:
        s.until_done()
        final = s.get_final_run()
    assert final.status == "completed"
    assert final.usage is not None and final.usage.total_tokens > 0
    # §7.4.B continuation: the tool step completes, then the run goes round again as a text answer.
    assert collapse(follow.event_names) == ["thread.run.step.completed", *PLAIN_TEXT_ORDER[1:]]
    answer = "".join(follow.text_deltas)
    assert OUTPUTS["get_weather"] in answer and OUTPUTS["get_time"] in answer
    assert follow.texts_done == [answer]

    # The tool step now holds each output, in the stream and afterwards (§7.7).
    first = follow.events[0]
    assert first.event == "thread.run.step.completed"
    assert first.data.step_details.type == "tool_calls"
    streamed = {c.id: c.function.output for c in first.data.step_details.tool_calls if c.type == "function"}
    assert streamed == {call_a: OUTPUTS["get_weather"], call_b: OUTPUTS["get_time"]}
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id, order="asc").data
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
    assert steps[0].step_details.type == "tool_calls"
    stored = {c.id: c.function.output for c in steps[0].step_details.tool_calls if c.type == "function"}
    assert stored == streamed
    (message,) = client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message_text(message) == answer


def test_polled_calls_then_polled_outputs(client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id, run = _polled_until_requires_action(client, assistant)
    queued = client.beta.threads.runs.submit_tool_outputs(
        run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(run)
    )
    assert queued.status == "queued" and queued.required_action is None
    final = client.beta.threads.runs.poll(run.id, thread_id=thread_id, poll_interval_ms=POLL_MS)
    assert final.status == "completed"
    assert final.usage is not None
    (message,) = client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert OUTPUTS["get_weather"] in message_text(message) and OUTPUTS["get_time"] in message_text(message)
    (tool_step, _) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread_id, order="asc").data
    assert tool_step.step_details.type == "tool_calls"
    outputs = [c.function.output for c in tool_step.step_details.tool_calls if c.type == "function"]
    assert outputs == [OUTPUTS["get_weather"], OUTPUTS["get_time"]]


def test_submit_and_poll_helper(client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id, run = _polled_until_requires_action(client, assistant)
    final = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(run), poll_interval_ms=POLL_MS
    )
    assert final.status == "completed"
    assert final.required_action is None


def test_bad_tool_output_submissions_are_400(client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id, run = _polled_until_requires_action(client, assistant)
    outputs = _outputs(run)
    submit = client.beta.threads.runs.submit_tool_outputs

    with pytest.raises(openai.BadRequestError) as missing:
        submit(run_id=run.id, thread_id=thread_id, tool_outputs=outputs[:1])
    assert missing.value.status_code == 400
    assert outputs[1]["tool_call_id"] in missing.value.message
    assert missing.value.param == "tool_outputs"

    with pytest.raises(openai.BadRequestError) as unknown:
        submit(run_id=run.id, thread_id=thread_id, tool_outputs=[*outputs, {"tool_call_id": "call_nope", "output": ""}])
    assert "call_nope" in unknown.value.message

    # Neither rejected request changed the run.
    still = client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert still.status == "requires_action" and still.required_action == run.required_action

    final = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread_id, tool_outputs=outputs, poll_interval_ms=POLL_MS
    )
    assert final.status == "completed"
    with pytest.raises(openai.BadRequestError) as late:
        submit(run_id=run.id, thread_id=thread_id, tool_outputs=outputs)
    assert "completed" in late.value.message
