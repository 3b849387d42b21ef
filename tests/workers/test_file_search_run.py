"""A run that searches files, without Celery: the payload the executor sends, the step's results, the model's view of
them, and the answer's citations (streamed and completed). The search itself is a stand-in here; the e2e tests use
the real one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from orchestrator.domain.models import JSON, Assistant, FileCounts, Thread, VectorStore
from orchestrator.domain.requests import RunCreate, ToolOutput, ToolOutputsSubmit
from orchestrator.domain.step_include import SEARCH_RESULT_CONTENT, step_wire
from orchestrator.services import runs
from orchestrator.services.ledger import now_s
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher, ScriptedModel, call_turn, text_turn
from workers.executor.loop import RunExecutor
from workers.tools.file_search import tool
from workers.tools.file_search.tool import SEARCH_FAILED, run_search
from workers.tools.results import record_result

GUIDE = "The rooftop garden opens at 7 am. It closes at dusk."


@dataclass(frozen=True)
class Hit:
    file_id: str
    filename: str
    score: float
    text: str

    def wire(self, include_content: bool) -> JSON:
        found: JSON = {"file_id": self.file_id, "file_name": self.filename, "score": self.score}
        if include_content:
            found["content"] = [{"type": "text", "text": self.text}]
        return found


@dataclass
class FakeSearch:
    calls: list[tuple[list[str], str, int, Any]]

    def __call__(
        self,
        store: RedisStore,
        project: str,
        vector_store_ids: list[str],
        query: str,
        *,
        max_num_results: int = 20,
        ranking_options: dict[str, Any] | None = None,
    ) -> list[Any]:
        self.calls.append((vector_store_ids, query, max_num_results, ranking_options))
        return [Hit("file-guide", "guide.md", 0.9, GUIDE), Hit("file-faq", "faq.txt", 0.2, "Parking is free.")]


def put(store: RedisStore, key: str, doc: Any, index: str) -> None:
    store.put_indexed([(key, doc)], [(index, doc.id)])


def start(store: RedisStore, dispatcher: RecordingDispatcher, *more_tools: JSON) -> tuple[str, str]:
    """A run whose assistant and thread each name a vector store (stored directly: validation is the API's job)."""
    tool = {"type": "file_search", "file_search": {"max_num_results": 5, "ranking_options": {"score_threshold": 0.1}}}
    assistant = Assistant(
        id="asst_fs",
        created_at=now_s(),
        model="gpt-4o",
        tools=[tool, *more_tools],
        tool_resources={"file_search": {"vector_store_ids": ["vs_assistant"]}},
    )
    thread = Thread(
        id="thread_fs", created_at=now_s(), tool_resources={"file_search": {"vector_store_ids": ["vs_thread"]}}
    )
    put(store, store.keys.assistant("p", assistant.id), assistant, store.keys.assistants("p"))
    store.put_indexed([(store.keys.thread("p", thread.id), thread)], [])
    started = runs.create_run(store, dispatcher, "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    return thread.id, started.run.id


def execute(store: RedisStore, dispatcher: RecordingDispatcher, model: ScriptedModel) -> str:
    project, thread_id, run_id, token = dispatcher.runs[-1]
    return RunExecutor(store, model, dispatcher, max_turns=4).execute(project, thread_id, run_id, token)


def test_a_search_is_recorded_on_its_step_shown_to_the_model_and_cited(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = start(store, dispatcher)
    # The marker arrives split over three pieces, as a model's tokens would cut it.
    answer = text_turn("It opens at 7 am ", "【0:", "0†guide.md】", ".")
    model = ScriptedModel([call_turn(("file_search", '{"query": "opening hours"}')), answer])
    assert execute(store, dispatcher, model) == "awaiting_tools"

    ((tool, payload),) = dispatcher.tools
    assert tool == "file_search"
    assert payload["query"] == "opening hours"
    assert payload["vector_store_ids"] == ["vs_assistant", "vs_thread"]
    assert payload["max_num_results"] == 5
    assert payload["ranking_options"] == {"ranker": "auto", "score_threshold": 0.1}

    search = FakeSearch([])
    result = run_search(store, payload, search)
    assert search.calls == [(["vs_assistant", "vs_thread"], "opening hours", 5, payload["ranking_options"])]
    assert record_result(store, dispatcher, payload, result, "file_search") == "dispatch"
    assert execute(store, dispatcher, model) == "completed"

    # The model's second turn read the results under their markers.
    tool_message = model.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "【0:0†guide.md】 (score 0.900)\n" + GUIDE in tool_message["content"]
    assert "【0:1†faq.txt】" in tool_message["content"]

    step = store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))[0]
    found = step.tool_calls()[0]["file_search"]
    assert found["ranking_options"] == {"ranker": "auto", "score_threshold": 0.1}
    assert [r["file_id"] for r in found["results"]] == ["file-guide", "file-faq"]
    assert found["results"][0]["content"] == [{"type": "text", "text": GUIDE}]
    assert "content" not in step_wire(step)["step_details"]["tool_calls"][0]["file_search"]["results"][0]
    assert step_wire(step, [SEARCH_RESULT_CONTENT]) == step.wire()

    logged = [(e.event, orjson.loads(e.data)) for e in store.events("p", thread_id, run_id)]
    completed_steps = [d for name, d in logged if name == "thread.run.step.completed" and d["type"] == "tool_calls"]
    assert "content" not in completed_steps[0]["step_details"]["tool_calls"][0]["file_search"]["results"][0]

    text = "It opens at 7 am 【0:0†guide.md】."
    citation = {
        "type": "file_citation",
        "text": "【0:0†guide.md】",
        "start_index": 17,
        "end_index": 31,
        "file_citation": {"file_id": "file-guide", "quote": "The rooftop garden opens at 7 am."},
    }
    assert text[17:31] == "【0:0†guide.md】"
    deltas = [d["delta"]["content"][0]["text"] for name, d in logged if name == "thread.message.delta"]
    assert "".join(d["value"] for d in deltas) == text and deltas[0]["annotations"] == []
    # Deltas may coalesce pieces; the citation comes once, in the delta whose text completes its marker.
    (carrier,) = [i for i, d in enumerate(deltas) if d.get("annotations")]
    assert deltas[carrier]["annotations"] == [{"index": 0, **citation}]
    assert (
        len("".join(d["value"] for d in deltas[:carrier]))
        < 31
        <= len("".join(d["value"] for d in deltas[: carrier + 1]))
    )
    (completed,) = [d for name, d in logged if name == "thread.message.completed"]
    assert completed["content"] == [{"type": "text", "text": {"value": text, "annotations": [citation]}}]


def test_a_run_without_vector_stores_searches_nothing(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    payload = {"project": "p", "query": "q", "vector_store_ids": [], "max_num_results": 3}
    search = FakeSearch([])
    assert run_search(store, payload, search) == {
        "outputs": [],
        "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
        "results": [],
    }
    assert search.calls == []


def test_a_search_that_breaks_fails_the_run_saying_so(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    thread_id, run_id = start(store, dispatcher)
    model = ScriptedModel([call_turn(("file_search", '{"query": "q"}'))])
    assert execute(store, dispatcher, model) == "awaiting_tools"
    ((_, payload),) = dispatcher.tools

    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise ValueError("index corrupt")

    result = run_search(store, payload, broken)
    assert result == {"error": SEARCH_FAILED}
    record_result(store, dispatcher, payload, result, "file_search")
    assert execute(store, dispatcher, model) == "failed"
    run = runs.get_run(store, "p", thread_id, run_id)
    assert run.last_error is not None and run.last_error.message == SEARCH_FAILED
    step = store.get_steps("p", thread_id, store.all_ids(store.keys.steps("p", thread_id, run_id)))[0]
    assert step.status == "failed"


def stores_in_progress(counts: list[int]) -> Any:
    pending = iter(counts)

    def get(store: RedisStore, project: str, ids: Any) -> list[VectorStore]:
        return [VectorStore(id="vs_1", created_at=0, file_counts=FileCounts(in_progress=next(pending)))]

    return get


def test_a_search_waits_for_files_still_being_ingested(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool, "get_vector_stores", stores_in_progress([2, 1, 0]))
    slept: list[float] = []
    assert tool.wait_for_ingestion(store, "p", ["vs_1"], timeout_s=5, sleep=slept.append, clock=lambda: 0.0)
    assert slept == [tool.READY_POLL_S] * 2


def test_the_wait_is_bounded(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool, "get_vector_stores", stores_in_progress([1] * 10))
    ticks = iter(range(10))
    slept: list[float] = []
    ready = tool.wait_for_ingestion(store, "p", ["vs_1"], timeout_s=3, sleep=slept.append, clock=lambda: next(ticks))
    assert not ready and len(slept) == 2  # checked at t=1 and t=2, given up at t=3


def test_results_stay_out_of_events_when_a_function_call_shares_the_step(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    """A turn that searched and called a function completes its step on submit_tool_outputs: the event may not carry
    result content."""
    function = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    thread_id, run_id = start(store, dispatcher, function)
    model = ScriptedModel([call_turn(("file_search", '{"query": "q"}'), ("lookup", "{}"))])
    assert execute(store, dispatcher, model) == "awaiting_tools"
    ((_, payload),) = dispatcher.tools
    record_result(store, dispatcher, payload, run_search(store, payload, FakeSearch([])), "file_search")
    assert execute(store, dispatcher, model) == "requires_action"
    action = runs.get_run(store, "p", thread_id, run_id).required_action
    assert action is not None
    (call,) = action.submit_tool_outputs["tool_calls"]
    submit = ToolOutputsSubmit(tool_outputs=[ToolOutput(tool_call_id=call["id"], output="x")])
    runs.submit_tool_outputs(store, dispatcher, "p", thread_id, run_id, submit)

    logged = [(e.event, orjson.loads(e.data)) for e in store.events("p", thread_id, run_id)]
    (done,) = [d for name, d in logged if name == "thread.run.step.completed"]
    searched = next(c for c in done["step_details"]["tool_calls"] if c["type"] == "file_search")
    assert searched["file_search"]["results"] and "content" not in searched["file_search"]["results"][0]
    stored = store.get_step("p", thread_id, done["id"])
    assert stored is not None and "content" in stored.tool_calls()[0]["file_search"]["results"][0]
