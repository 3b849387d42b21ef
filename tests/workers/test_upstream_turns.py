"""The executor on completions as real servers stream them: late tool names, text beside tool calls, truncation,
content filtering, unknown usage, an error or a cut after streaming began."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestrator.domain.models import Usage
from orchestrator.domain.requests import ToolOutput, ToolOutputsSubmit
from orchestrator.domain.status import MessageStatus, RunStatus, StepStatus
from orchestrator.errors import UpstreamError
from orchestrator.services import runs
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher, ScriptedModel
from tests.workers.test_executor import FUNCTION, events, execute, new_run
from workers.executor.chat_stream import ENDED_EARLY
from workers.executor.llm import Finish, Piece, ReasoningPiece, TextPiece, ToolCallPiece

USAGE = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def steps_of(store: RedisStore, thread_id: str, run_id: str) -> list[Any]:
    return store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))


def messages_of(store: RedisStore, thread_id: str, run_id: str) -> list[Any]:
    return store.get_messages("p", thread_id, store.all_ids(store.keys.run_messages("p", thread_id, run_id)))


def late_named(name: str, arguments: str) -> list[Piece]:
    """The id first, arguments before the name, the name last: LiteLLM passes such splits through."""
    return [
        ToolCallPiece(0, None, "", "upstream_call_1"),
        ToolCallPiece(0, None, arguments[:5]),
        ToolCallPiece(0, name, arguments[5:]),
        Finish("tool_calls", USAGE),
    ]


def test_a_function_named_late_is_asked_for_by_its_name(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    assert execute(store, dispatcher, ScriptedModel([late_named("get_weather", '{"city": "SF"}')])) == "requires_action"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "SF"}'}


def test_code_named_late_runs_on_the_server(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[{"type": "code_interpreter"}])
    model = ScriptedModel([late_named("code_interpreter", '{"code": "print(42)"}')])
    assert execute(store, dispatcher, model) == "awaiting_tools"
    ((tool, payload),) = dispatcher.tools
    assert (tool, payload["argument"]) == ("code_interpreter", "print(42)")
    assert "thread.run.requires_action" not in events(store, thread_id, run_id)


def test_a_tool_never_named_fails_the_run(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    model = ScriptedModel([[ToolCallPiece(0, None, "{}", "c1"), Finish("tool_calls", USAGE)]])
    assert execute(store, dispatcher, model) == "failed"
    error = runs.get_run(store, "p", thread_id, run_id).last_error
    assert error is not None and error.message == "The model called a tool without naming it."


def test_text_around_tool_calls_is_kept_in_order_and_sent_back_with_them(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    first: list[Piece] = [
        TextPiece("Let me check. "),
        ToolCallPiece(0, "get_weather", '{"city": "SF"}', "u1"),
        TextPiece("Back soon."),
        Finish("tool_calls", USAGE),
    ]
    model = ScriptedModel([first, [TextPiece("Sunny."), Finish("stop", USAGE)]])
    assert execute(store, dispatcher, model) == "requires_action"
    steps = steps_of(store, thread_id, run_id)
    assert [(s.type, s.status) for s in steps] == [
        ("message_creation", StepStatus.COMPLETED),
        ("tool_calls", StepStatus.IN_PROGRESS),
        ("message_creation", StepStatus.COMPLETED),
    ]
    assert [(m.text(), m.status) for m in messages_of(store, thread_id, run_id)] == [
        ("Let me check. ", MessageStatus.COMPLETED),
        ("Back soon.", MessageStatus.COMPLETED),
    ]
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs["tool_calls"]
    outputs = ToolOutputsSubmit(tool_outputs=[ToolOutput(tool_call_id=call["id"], output="18C")])
    runs.submit_tool_outputs(store, dispatcher, "p", thread_id, run_id, outputs)
    assert execute(store, dispatcher, model) == "completed"
    turn = [m for m in model.requests[1]["messages"] if m["role"] in ("assistant", "tool")]
    assert turn[0]["content"] == "Let me check. Back soon."
    assert [c["function"]["name"] for c in turn[0]["tool_calls"]] == ["get_weather"]
    assert turn[1] == {"role": "tool", "tool_call_id": call["id"], "content": "18C"}
    assert [m.text() for m in messages_of(store, thread_id, run_id)][-1] == "Sunny."


def test_a_model_limit_is_never_a_success(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)  # no limit of the run's own
    assert execute(store, dispatcher, ScriptedModel([[TextPiece("cut"), Finish("length", USAGE)]])) == "incomplete"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    (message,) = messages_of(store, thread_id, run_id)
    assert (message.status, message.incomplete_details, message.text()) == (
        MessageStatus.INCOMPLETE,
        {"reason": "max_tokens"},
        "cut",
    )


def test_a_content_filter_ends_the_run_incomplete_with_its_reason(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    model = ScriptedModel([[TextPiece("Some"), Finish("content_filter", USAGE)]])
    assert execute(store, dispatcher, model) == "incomplete"
    assert runs.get_run(store, "p", thread_id, run_id).incomplete_details == {"reason": "content_filter"}
    (message,) = messages_of(store, thread_id, run_id)
    assert message.incomplete_details == {"reason": "content_filter"}


def test_tool_calls_cut_by_the_limit_do_not_run(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[{"type": "code_interpreter"}])
    model = ScriptedModel([[ToolCallPiece(0, "code_interpreter", '{"code": "pri', "u"), Finish("length", USAGE)]])
    assert execute(store, dispatcher, model) == "incomplete"
    assert dispatcher.tools == []
    tool_steps = [s for s in steps_of(store, thread_id, run_id) if s.type == "tool_calls"]
    assert [s.status for s in tool_steps] == [StepStatus.CANCELLED]


def test_usage_the_upstream_never_reported_stays_null(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    assert execute(store, dispatcher, ScriptedModel([[TextPiece("hi"), Finish("stop", None)]])) == "completed"
    assert runs.get_run(store, "p", thread_id, run_id).usage is None


def test_reasoning_never_reaches_the_answer(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    model = ScriptedModel([[ReasoningPiece("hmm"), TextPiece("Yes."), Finish("stop", USAGE)]])
    assert execute(store, dispatcher, model) == "completed"
    assert [m.text() for m in messages_of(store, thread_id, run_id)] == ["Yes."]


class FailsAfter:
    """Streams `words`, then fails as the stream reader does for an error object or a cut-off stream."""

    def __init__(self, message: str, *words: str) -> None:
        self.message, self.words = message, words

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        for word in self.words:
            yield TextPiece(word)
        raise UpstreamError(self.message, code="server_error")


def test_an_error_mid_answer_fails_the_run_with_the_upstream_words_and_keeps_the_text(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    for message in ("The model endpoint failed mid-answer: upstream exploded", ENDED_EARLY):
        thread_id, run_id = new_run(store, dispatcher)
        assert execute(store, dispatcher, FailsAfter(message, "Half", " done")) == "failed"
        run = runs.get_run(store, "p", thread_id, run_id)
        assert run.status is RunStatus.FAILED and run.last_error is not None
        assert (run.last_error.code, run.last_error.message) == ("server_error", message)
        (partial,) = messages_of(store, thread_id, run_id)
        assert (partial.status, partial.text()) == (MessageStatus.INCOMPLETE, "Half done")
