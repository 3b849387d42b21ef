"""What real upstreams stream, reproduced by the mock's `[[quirk NAME]]`, seen through a real stack and the SDK.

One row per behaviour: the user's message (quirks and directives), the tools offered, the run's options, and what
the run, its steps and its messages must show afterwards.

The stack is this module's own: what the executor learns about an upstream (a parameter it rejects) is kept per
worker process for an hour, and would leak into every later test of a shared stack. For the same reason the rows
that teach it something (`reject_*`) come last in the table: after `reject_stream_options`, no request asks for usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from openai.types.beta import AssistantToolParam
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from orchestrator.mockmodel import quirks as q
from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, make_assistant, message_text
from tests.stack import KEY_A, Stack, running_stack

pytestmark = pytest.mark.e2e

WEATHER_CALL = '[[call get_weather {"city":"SF"}]]'
GET_WEATHER = function_tool("get_weather")
CODE: AssistantToolParam = {"type": "code_interpreter"}
CUT_TEXT = "[[text alpha beta gamma delta]]"  # error_midstream and truncated stop after "alpha beta"
UPSTREAM_REQUESTS = "orchestrator_model_request_duration_seconds_count"  # every attempt, a rejected one too


@pytest.fixture(scope="module")
def quirk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("quirks-stack"), env={}) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(quirk_stack: Stack) -> Iterator[openai.OpenAI]:
    with quirk_stack.client(KEY_A) as client:
        yield client


@dataclass
class Outcome:
    """One row's run, finished (or waiting for tool outputs), and ways to look at what it left."""

    stack: Stack
    client: openai.OpenAI
    assistant_id: str
    thread_id: str
    run: Run
    handler: RecordingHandler | None = None

    def messages(self, run: Run | None = None) -> list[Message]:
        run_id = (run or self.run).id
        return self.client.beta.threads.messages.list(thread_id=self.thread_id, run_id=run_id, order="asc").data

    def message(self) -> Message:
        (only,) = self.messages()
        return only

    def steps(self) -> list[RunStep]:
        return self.client.beta.threads.runs.steps.list(run_id=self.run.id, thread_id=self.thread_id, order="asc").data

    def message_of(self, step: RunStep) -> Message:
        assert step.step_details.type == "message_creation"
        message_id = step.step_details.message_creation.message_id
        return self.client.beta.threads.messages.retrieve(message_id, thread_id=self.thread_id)

    def another_run(self, content: str) -> Run:
        """The same assistant on a fresh thread, polled."""
        thread = self.client.beta.threads.create(messages=[{"role": "user", "content": content}])
        return self.client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=self.assistant_id, poll_interval_ms=POLL_MS
        )


@dataclass(frozen=True)
class Row:
    id: str
    content: str
    check: Callable[[Outcome], None]
    tools: tuple[AssistantToolParam, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    streamed: bool = False


# The checks, one per expectation of the table in the module's docstring order.


def asks_for_get_weather_in_sf(out: Outcome) -> None:
    assert out.run.status == "requires_action", out.run.last_error
    assert out.run.required_action is not None
    calls = out.run.required_action.submit_tool_outputs.tool_calls
    assert [(call.function.name, json.loads(call.function.arguments)) for call in calls] == [
        ("get_weather", {"city": "SF"})
    ]
    assert all(call.id.startswith("call_") for call in calls)


def runs_the_code(out: Outcome) -> None:
    assert out.run.status == "completed", out.run.last_error
    assert out.run.required_action is None
    tool_steps = [step for step in out.steps() if step.step_details.type == "tool_calls"]
    assert len(tool_steps) == 1
    details = tool_steps[0].step_details
    assert details.type == "tool_calls"
    (call,) = details.tool_calls
    assert call.type == "code_interpreter"
    assert call.code_interpreter.input == "print(6*7)"
    assert [o.logs for o in call.code_interpreter.outputs if o.type == "logs"] == ["42\n"]


def fails_midstream_keeping_the_partial_text(out: Outcome) -> None:
    assert out.handler is not None
    assert out.handler.event_names[-1] == "thread.run.failed"
    fails_with_the_partial_text(out, "upstream exploded mid-answer")


def fails_with_the_partial_text(out: Outcome, upstream_message: str | None = None) -> None:
    assert out.run.status == "failed"
    assert out.run.last_error is not None
    assert out.run.last_error.code == "server_error"
    if upstream_message is not None:
        assert upstream_message in out.run.last_error.message
    message = out.message()
    assert message.status == "incomplete"
    assert message_text(message) == "alpha beta"


def completes_with_exactly_hi_there(out: Outcome) -> None:
    assert out.run.status == "completed", out.run.last_error
    assert message_text(out.message()) == "hi there"


def completes_without_reasoning(out: Outcome) -> None:
    completes_with_exactly_hi_there(out)
    text = message_text(out.message())
    assert not any(piece.strip() in text for piece in q.REASONING_PIECES)


def completes_without_usage(out: Outcome) -> None:
    assert out.run.status == "completed", out.run.last_error
    assert out.run.usage is None
    assert message_text(out.message()) == "no usage here"


def incomplete_for(run_reason: str, message_reason: str) -> Callable[[Outcome], None]:
    def check(out: Outcome) -> None:
        assert out.run.status == "incomplete", out.run.last_error
        assert out.run.incomplete_details is not None
        assert out.run.incomplete_details.reason == run_reason
        message = out.message()
        assert message.status == "incomplete"
        assert message.incomplete_details is not None
        assert message.incomplete_details.reason == message_reason
        assert message_text(message) == "cut short here"

    return check


def keeps_text_around_the_call(out: Outcome) -> None:
    asks_for_get_weather_in_sf(out)
    steps = out.steps()
    assert [step.type for step in steps] == ["message_creation", "tool_calls", "message_creation"]
    before, after = out.message_of(steps[0]), out.message_of(steps[2])
    assert (steps[0].status, before.status, message_text(before)) == (
        "completed",
        "completed",
        q.TEXT_BEFORE_CALL_WORDS,
    )
    assert (steps[2].status, after.status, message_text(after)) == ("completed", "completed", q.TEXT_AFTER_CALL_WORDS)

    assert out.run.required_action is not None
    (call,) = out.run.required_action.submit_tool_outputs.tool_calls
    final = out.client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=out.run.id,
        thread_id=out.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "foggy"}],
        poll_interval_ms=POLL_MS,
    )
    assert final.status == "completed", final.last_error
    # The echo is the assistant turn the executor sent back with the call: it must carry the text said around it.
    echo = message_text(out.messages(final)[-1])
    assert echo.startswith(q.ECHO_PREFIX)
    assert q.TEXT_BEFORE_CALL_WORDS in echo and q.TEXT_AFTER_CALL_WORDS in echo


def completes_with(text: str) -> Callable[[Outcome], None]:
    def check(out: Outcome) -> None:
        assert out.run.status == "completed", out.run.last_error
        assert message_text(out.message()) == text

    return check


def falls_back_once_without_stream_options(out: Outcome) -> None:
    assert out.run.status == "completed", out.run.last_error
    requests_before = out.stack.metric(UPSTREAM_REQUESTS)
    second = out.another_run("[[quirk reject_stream_options]] [[text second run]]")
    assert second.status == "completed", second.last_error
    assert message_text(out.message()) == "first run"
    # Without stream_options the upstream reports no usage, and unknown usage stays null.
    assert out.run.usage is None and second.usage is None
    # Learned on the first run's 400; the second run's request went without the parameter from the start: one
    # upstream request, no rejected attempt before it.
    assert out.stack.metric("orchestrator_upstream_fallbacks_total", param="stream_options") == 1
    assert out.stack.metric(UPSTREAM_REQUESTS) - requests_before == 1


ROWS = [
    Row("late_name-function", f"[[quirk late_name]] {WEATHER_CALL}", asks_for_get_weather_in_sf, (GET_WEATHER,)),
    Row("late_name-code_interpreter", "[[quirk late_name]] [[code print(6*7)]]", runs_the_code, (CODE,)),
    Row("late_id-function", f"[[quirk late_id]] {WEATHER_CALL}", asks_for_get_weather_in_sf, (GET_WEATHER,)),
    Row(
        "error_midstream",
        f"[[quirk error_midstream]] {CUT_TEXT}",
        fails_midstream_keeping_the_partial_text,
        streamed=True,
    ),
    Row("no_choices", "[[quirk no_choices]] [[text hi there]]", completes_with_exactly_hi_there),
    Row("named_event", "[[quirk named_event]] [[text hi there]]", completes_with_exactly_hi_there),
    Row(
        "text_after_call-echo_assistant",
        f"[[quirk text_after_call echo_assistant]] {WEATHER_CALL}",
        keeps_text_around_the_call,
        (GET_WEATHER,),
    ),
    Row("length", "[[quirk length]] [[text cut short here]]", incomplete_for("max_completion_tokens", "max_tokens")),
    Row(
        "content_filter",
        "[[quirk content_filter]] [[text cut short here]]",
        incomplete_for("content_filter", "content_filter"),
    ),
    Row("truncated", f"[[quirk truncated]] {CUT_TEXT}", fails_with_the_partial_text),
    Row("no_usage", "[[quirk no_usage]] [[text no usage here]]", completes_without_usage),
    Row("reasoning", "[[quirk reasoning]] [[text hi there]]", completes_without_reasoning),
    # Rows that teach the executor what the upstream rejects: last (see the module's docstring).
    Row(
        "reject_max_completion_tokens",
        "[[quirk reject_max_completion_tokens]] [[text fits easily]]",
        completes_with("fits easily"),
        options={"max_completion_tokens": 256},  # the smallest limit the Assistants API accepts
    ),
    Row(
        "reject_parallel_tool_calls",
        f"[[quirk reject_parallel_tool_calls]] {WEATHER_CALL}",
        asks_for_get_weather_in_sf,
        (GET_WEATHER,),
    ),
    Row(
        "reject_stream_options",
        "[[quirk reject_stream_options]] [[text first run]]",
        falls_back_once_without_stream_options,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_upstream_quirk(quirk_stack: Stack, sdk: openai.OpenAI, row: Row) -> None:
    assistant = make_assistant(sdk, *row.tools, name=f"quirk {row.id}")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": row.content}])
    handler = None
    if row.streamed:
        handler = RecordingHandler()
        with sdk.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler, **row.options
        ) as stream:
            stream.until_done()
        streamed = handler.current_run
        assert streamed is not None, "the run's stream carried no run event"
        run = sdk.beta.threads.runs.retrieve(streamed.id, thread_id=thread.id)
    else:
        run = sdk.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS, **row.options
        )
    row.check(Outcome(quirk_stack, sdk, assistant.id, thread.id, run, handler))
