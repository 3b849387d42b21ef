"""Shared pieces of the e2e tests: a recording event handler, tool definitions, polling with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TypeVar

import openai
from openai import AssistantEventHandler
from openai.types.beta import Assistant, AssistantStreamEvent, AssistantToolParam
from openai.types.beta.threads import Message, MessageDelta, Run, Text, TextDelta
from openai.types.beta.threads.runs import RunStep, RunStepDelta, ToolCall, ToolCallDelta
from typing_extensions import override

T = TypeVar("T")
MODEL = "gpt-4o"
POLL_MS = 100


def function_tool(name: str) -> AssistantToolParam:
    return {
        "type": "function",
        "function": {"name": name, "description": f"The {name} function.", "parameters": {"type": "object"}},
    }


def make_assistant(client: openai.OpenAI, *tools: AssistantToolParam, name: str = "e2e") -> Assistant:
    return client.beta.assistants.create(model=MODEL, name=name, tools=list(tools))


def error_message(error: openai.APIStatusError) -> str:
    """The server's `error.message` (the exception's own message is prefixed with "Error code: N - ")."""
    assert isinstance(error.body, dict), error.body
    return str(error.body["message"])


def message_text(message: Message) -> str:
    return "".join(part.text.value for part in message.content if part.type == "text")


def poll_until(fetch: Callable[[], T], done: Callable[[T], bool], *, timeout_s: float, what: str) -> T:
    """Poll the API (every 0.1 s) until `done(fetch())`, failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s}s; last seen: {value!r}")
        time.sleep(POLL_MS / 1000)


def wait_for_status(client: openai.OpenAI, run: Run, statuses: Collection[str], *, timeout_s: float = 20.0) -> Run:
    return poll_until(
        lambda: client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id),
        lambda fresh: fresh.status in statuses,
        timeout_s=timeout_s,
        what=f"run {run.id} reaching {sorted(statuses)}",
    )


class RecordingHandler(AssistantEventHandler):
    """Records every event and every callback (name plus the identifying detail), for sequence assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[AssistantStreamEvent] = []
        self.calls: list[tuple[str, str]] = []
        self.text_deltas: list[str] = []
        self.texts_done: list[str] = []
        self.tool_input_deltas: list[str] = []
        self.tool_calls_created: list[ToolCall] = []
        self.tool_calls_done: list[ToolCall] = []

    @property
    def event_names(self) -> list[str]:
        return [event.event for event in self.events]

    def callback_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @override
    def on_event(self, event: AssistantStreamEvent) -> None:
        self.events.append(event)

    @override
    def on_run_step_created(self, run_step: RunStep) -> None:
        self.calls.append(("on_run_step_created", run_step.type))

    @override
    def on_run_step_delta(self, delta: RunStepDelta, snapshot: RunStep) -> None:
        self.calls.append(("on_run_step_delta", snapshot.id))

    @override
    def on_run_step_done(self, run_step: RunStep) -> None:
        self.calls.append(("on_run_step_done", run_step.type))

    @override
    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.tool_calls_created.append(tool_call)
        self.calls.append(("on_tool_call_created", tool_call.id))

    @override
    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        if delta.type == "code_interpreter" and delta.code_interpreter and delta.code_interpreter.input:
            self.tool_input_deltas.append(delta.code_interpreter.input)
        self.calls.append(("on_tool_call_delta", snapshot.id))

    @override
    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.tool_calls_done.append(tool_call)
        self.calls.append(("on_tool_call_done", tool_call.id))

    @override
    def on_message_created(self, message: Message) -> None:
        self.calls.append(("on_message_created", message.id))

    @override
    def on_message_delta(self, delta: MessageDelta, snapshot: Message) -> None:
        self.calls.append(("on_message_delta", snapshot.id))

    @override
    def on_message_done(self, message: Message) -> None:
        self.calls.append(("on_message_done", message.id))

    @override
    def on_text_created(self, text: Text) -> None:
        self.calls.append(("on_text_created", ""))

    @override
    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.text_deltas.append(delta.value or "")
        self.calls.append(("on_text_delta", ""))

    @override
    def on_text_done(self, text: Text) -> None:
        self.texts_done.append(text.value)
        self.calls.append(("on_text_done", ""))
