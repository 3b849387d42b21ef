"""The executor without Celery: a scripted model, a recording dispatcher, the store on fakeredis and real Redis."""

from __future__ import annotations

import threading
from typing import Any

import orjson

from orchestrator.domain.models import Usage
from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate, ToolOutput, ToolOutputsSubmit
from orchestrator.domain.status import RunStatus
from orchestrator.errors import UpstreamError
from orchestrator.services import assistants, runs, threads
from orchestrator.store import Commit, CommitResult, RedisStore
from tests.support import PLAIN_TEXT_ORDER, RecordingDispatcher, ScriptedModel, call_turn, collapse, text_turn
from workers.executor.llm import Finish, Piece, TextPiece
from workers.executor.loop import RunExecutor
from workers.tools.results import record_result

FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def new_run(
    store: RedisStore, dispatcher: RecordingDispatcher, tools: list[dict[str, Any]] | None = None, **options: Any
) -> tuple[str, str]:
    assistant = assistants.create(
        store, "p", AssistantCreate(model="gpt-4o", instructions="Be brief.", tools=tools or [])
    )
    thread = threads.create_thread(store, "p", None)
    threads.add_message(store, "p", thread.id, MessageCreate(role="user", content="Hello?"))
    started = runs.create_run(
        store, dispatcher, "p", thread.id, RunCreate(assistant_id=assistant.id, **options), expiry_s=600
    )
    return thread.id, started.run.id


def events(store: RedisStore, thread_id: str, run_id: str) -> list[str]:
    return [e.event for e in store.events("p", thread_id, run_id)]


def execute(store: RedisStore, dispatcher: RecordingDispatcher, model: Any) -> str:
    project, thread_id, run_id, token = dispatcher.runs[-1]
    return RunExecutor(store, model, dispatcher, max_turns=4).execute(project, thread_id, run_id, token)


def test_a_text_answer_streams_in_the_canonical_order(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    model = ScriptedModel([text_turn("Hi", " there")])
    assert execute(store, dispatcher, model) == "completed"
    assert collapse(events(store, thread_id, run_id)) == PLAIN_TEXT_ORDER
    assert events(store, thread_id, run_id).count("thread.message.delta") == 2
    deltas = [orjson.loads(e.data) for e in store.events("p", thread_id, run_id) if e.event == "thread.message.delta"]
    assert deltas[0]["delta"]["content"][0] == {"index": 0, "type": "text", "text": {"value": "Hi", "annotations": []}}
    assert deltas[1]["delta"]["content"][0] == {"index": 0, "type": "text", "text": {"value": " there"}}
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.status is RunStatus.COMPLETED and run.usage is not None and run.usage.completion_tokens == 2
    assert run.expires_at is None and run.completed_at is not None
    messages = store.get_messages("p", thread_id, store.all_ids(store.keys.run_messages("p", thread_id, run_id)))
    assert [m.text() for m in messages] == ["Hi there"]
    assert store.active_run_id("p", thread_id) is None
    assert model.requests[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert model.requests[0]["messages"][-1] == {"role": "user", "content": "Hello?"}


def test_a_second_delivery_of_the_same_task_does_nothing(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    assert execute(store, dispatcher, ScriptedModel([text_turn("once")])) == "completed"
    assert execute(store, dispatcher, ScriptedModel([text_turn("twice")])) == "skipped"
    assert events(store, thread_id, run_id).count("thread.message.created") == 1


def test_function_calls_wait_for_the_client_then_resume(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    model = ScriptedModel(
        [call_turn(("get_weather", '{"city":"SF"}'), ("get_weather", '{"city":"NY"}')), text_turn("Sunny", " both")]
    )
    assert execute(store, dispatcher, model) == "requires_action"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"city":"SF"}', '{"city":"NY"}']
    assert store.active_run_id("p", thread_id) == run_id  # still holds the thread
    deltas = [orjson.loads(e.data) for e in store.events("p", thread_id, run_id) if e.event == "thread.run.step.delta"]
    headers = [
        d["delta"]["step_details"]["tool_calls"][0]
        for d in deltas
        if "id" in d["delta"]["step_details"]["tool_calls"][0]
    ]
    assert [h["index"] for h in headers] == [0, 1]
    assert headers[0]["function"] == {"name": "get_weather", "arguments": "", "output": None}
    outputs = ToolOutputsSubmit(
        tool_outputs=[ToolOutput(tool_call_id=c["id"], output=f"out{i}") for i, c in enumerate(calls)]
    )
    runs.submit_tool_outputs(store, dispatcher, "p", thread_id, run_id, outputs)
    assert execute(store, dispatcher, model) == "completed"
    sent = model.requests[1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "tool"] == ["out0", "out1"]
    steps = store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    assert [c["function"]["output"] for c in steps[0].tool_calls()] == ["out0", "out1"]


def test_code_interpreter_parks_the_run_and_the_tool_hands_it_back(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[{"type": "code_interpreter"}])
    model = ScriptedModel([call_turn(("code_interpreter", '{"code": "print(1)"}')), text_turn("It", " is 1")])
    assert execute(store, dispatcher, model) == "awaiting_tools"
    ((tool_type, payload),) = dispatcher.tools
    assert (tool_type, payload["argument"]) == ("code_interpreter", "print(1)")
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.IN_PROGRESS
    outcome = record_result(
        store, dispatcher, payload, {"outputs": [{"type": "logs", "logs": "1\n"}]}, "code_interpreter"
    )
    assert outcome == "dispatch"
    assert execute(store, dispatcher, model) == "completed"
    steps = store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))
    assert steps[0].tool_calls()[0]["code_interpreter"] == {
        "input": "print(1)",
        "outputs": [{"type": "logs", "logs": "1\n"}],
    }
    assert "thread.run.requires_action" not in events(store, thread_id, run_id)


class DeltaSignallingStore(RedisStore):
    """Signals once the executor has committed a message delta, so a test can act right after it."""

    delta_committed = threading.Event()

    def commit(self, commit: Commit) -> CommitResult:
        result = super().commit(commit)
        if any(name == "thread.message.delta" for name, _ in commit.events):
            self.delta_committed.set()
        return result


class CancellingModel:
    """Streams a few pieces, and has the run cancelled once the first reached the client, as a client would."""

    def __init__(self, store: DeltaSignallingStore, dispatcher: RecordingDispatcher, thread_id: str, run_id: str):
        self.store, self.dispatcher, self.thread_id, self.run_id = store, dispatcher, thread_id, run_id

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Any:
        yield TextPiece("a")
        assert self.store.delta_committed.wait(timeout=10)
        runs.cancel_run(self.store, self.dispatcher, "p", self.thread_id, self.run_id)
        yield from (TextPiece(word) for word in ["b", "c", "d"])


def test_cancel_mid_stream_stops_at_the_next_write(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    store = DeltaSignallingStore(store.client, store.keys)
    store.delta_committed = threading.Event()
    thread_id, run_id = new_run(store, dispatcher)
    model = CancellingModel(store, dispatcher, thread_id, run_id)
    assert execute(store, dispatcher, model) == "cancelled"
    tail = events(store, thread_id, run_id)[-4:]
    assert tail == [
        "thread.run.cancelling",
        "thread.run.step.cancelled",
        "thread.message.incomplete",
        "thread.run.cancelled",
    ]
    message = store.get_messages("p", thread_id, store.all_ids(store.keys.messages("p", thread_id)))[-1]
    assert message.status == "incomplete" and message.incomplete_details == {"reason": "run_cancelled"}
    assert message.text() == "a"  # what the client saw before the cancel, rebuilt from the event log


def test_cancelling_a_queued_run_finishes_at_once(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    run = runs.cancel_run(store, dispatcher, "p", thread_id, run_id)
    assert run.status is RunStatus.CANCELLED
    assert events(store, thread_id, run_id)[-2:] == ["thread.run.cancelling", "thread.run.cancelled"]
    assert execute(store, dispatcher, ScriptedModel([text_turn("late")])) == "skipped"


def test_cancel_while_parked_on_tools_is_finished_by_an_executor(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[{"type": "code_interpreter"}])
    execute(store, dispatcher, ScriptedModel([call_turn(("code_interpreter", '{"code": "1"}'))]))
    assert runs.cancel_run(store, dispatcher, "p", thread_id, run_id).status is RunStatus.CANCELLING
    assert execute(store, dispatcher, ScriptedModel([])) == "cancelled"
    ((_, payload),) = dispatcher.tools
    assert record_result(store, dispatcher, payload, {"outputs": []}, "code_interpreter") == "stale"


class FailingModel:
    def __init__(self, code: str) -> None:
        self.code = code

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Any:
        yield TextPiece("partial")
        raise UpstreamError("upstream broke", code=self.code)


def test_an_upstream_failure_fails_the_run_with_its_code(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher)
    assert execute(store, dispatcher, FailingModel("rate_limit_exceeded")) == "failed"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.last_error is not None and run.last_error.code == "rate_limit_exceeded"
    assert events(store, thread_id, run_id)[-3:] == [
        "thread.run.step.failed",
        "thread.message.incomplete",
        "thread.run.failed",
    ]
    assert store.active_run_id("p", thread_id) is None


def test_the_completion_budget_ends_the_run_incomplete(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, max_completion_tokens=256)
    model = ScriptedModel([text_turn("word", reason="length")])
    assert execute(store, dispatcher, model) == "incomplete"
    assert model.requests[0]["max_completion_tokens"] == 256
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    assert events(store, thread_id, run_id)[-3:] == [
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
    ]


def test_a_model_that_never_answers_hits_the_turn_cap(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    looping: list[list[Piece]] = [call_turn(("get_weather", "{}")) for _ in range(6)]
    model = ScriptedModel(looping)
    for _ in range(4):
        assert execute(store, dispatcher, model) == "requires_action"
        run = runs.get_run(store, "p", thread_id, run_id)
        assert run.required_action is not None
        call_id = run.required_action.submit_tool_outputs["tool_calls"][0]["id"]
        runs.submit_tool_outputs(
            store,
            dispatcher,
            "p",
            thread_id,
            run_id,
            ToolOutputsSubmit(tool_outputs=[ToolOutput(tool_call_id=call_id, output="x")]),
        )
    assert execute(store, dispatcher, model) == "failed"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.last_error is not None and "model turns" in run.last_error.message


def test_the_sweeper_expires_a_run_waiting_on_the_client(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    from orchestrator.sweeper import sweep_once

    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION])
    execute(store, dispatcher, ScriptedModel([call_turn(("get_weather", "{}"))]))
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.expires_at is not None
    assert sweep_once(store, now=run.expires_at - 1) == 0
    assert sweep_once(store, now=run.expires_at + 1) == 1
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.EXPIRED
    assert events(store, thread_id, run_id)[-2:] == ["thread.run.step.expired", "thread.run.expired"]
    assert store.expiring_runs(now=run.expires_at + 10) == []
    assert store.active_run_id("p", thread_id) is None


def test_truncation_keeps_the_last_messages_and_run_overrides_reach_the_model(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    assistant = assistants.create(store, "p", AssistantCreate(model="gpt-4o", instructions="Base.", temperature=0.5))
    thread = threads.create_thread(store, "p", None)
    for text in ("first", "second", "third"):
        threads.add_message(store, "p", thread.id, MessageCreate(role="user", content=text))
    body = RunCreate(
        assistant_id=assistant.id,
        model="other-model",
        additional_instructions="Be kind.",
        truncation_strategy={"type": "last_messages", "last_messages": 2},
        top_p=0.3,
    )
    runs.create_run(store, dispatcher, "p", thread.id, body, expiry_s=600)
    model = ScriptedModel([text_turn("ok")])
    assert execute(store, dispatcher, model) == "completed"
    request = model.requests[0]
    assert request["model"] == "other-model"
    assert request["messages"] == [
        {"role": "system", "content": "Base.\n\nBe kind."},
        {"role": "user", "content": "second"},
        {"role": "user", "content": "third"},
    ]
    assert (request["temperature"], request["top_p"]) == (0.5, 0.3)


def test_the_prompt_budget_ends_the_run_incomplete(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = new_run(store, dispatcher, tools=[FUNCTION], max_prompt_tokens=256)
    first = call_turn(("get_weather", "{}"))
    first[-1] = Finish("tool_calls", Usage(prompt_tokens=300, completion_tokens=5, total_tokens=305))
    model = ScriptedModel([first, text_turn("never sent")])
    assert execute(store, dispatcher, model) == "requires_action"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.required_action is not None
    call_id = run.required_action.submit_tool_outputs["tool_calls"][0]["id"]
    outputs = ToolOutputsSubmit(tool_outputs=[ToolOutput(tool_call_id=call_id, output="x")])
    runs.submit_tool_outputs(store, dispatcher, "p", thread_id, run_id, outputs)
    assert execute(store, dispatcher, model) == "incomplete"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.incomplete_details == {"reason": "max_prompt_tokens"}
    assert run.usage is not None and run.usage.prompt_tokens == 300
    assert len(model.requests) == 1  # the exhausted budget was not spent on another call
