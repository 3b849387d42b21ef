"""file_search citations: numbering, the model's view of results, markers into annotations (whole and streamed)."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.models import Run, RunStep
from orchestrator.domain.status import MessageStatus
from orchestrator.mockmodel.script import Answer, decide
from workers.executor.citations import Citations, Source, best_quote, numbered_results, tool_output
from workers.executor.context import call_output
from workers.executor.llm import TextPiece
from workers.executor.turn import Turn

GUIDE = "The rooftop garden opens at 7 am. It closes at dusk. Dogs are welcome on a leash."


def result(file_id: str, name: str, text: str, score: float = 0.5) -> dict[str, Any]:
    return {"file_id": file_id, "file_name": name, "score": score, "content": [{"type": "text", "text": text}]}


def search_step(step_id: str, *calls: tuple[str, list[dict[str, Any]]]) -> RunStep:
    tool_calls = [
        {"id": call_id, "type": "file_search", "file_search": {"query": "q", "results": results}}
        for call_id, results in calls
    ]
    return RunStep(
        id=step_id,
        created_at=0,
        run_id="run_1",
        assistant_id="asst_1",
        thread_id="thread_1",
        type="tool_calls",
        step_details={"type": "tool_calls", "tool_calls": tool_calls},
    )


def sources() -> Citations:
    return Citations(
        [
            Source(0, 0, "file-guide", "guide.md", GUIDE, 0.9),
            Source(0, 1, "file-faq", "faq.txt", "Parking is free on Sundays.", 0.4),
        ]
    )


def test_results_are_numbered_per_turn_across_parallel_calls() -> None:
    steps = [
        search_step("step_a", ("call_1", [result("f1", "a.md", "A")]), ("call_2", [result("f2", "b.md", "B")])),
        search_step("step_b", ("call_3", [result("f3", "c.md", "C")])),
    ]
    numbered = numbered_results(steps, {"step_a": 0, "step_b": 2})
    assert [s.marker for s in numbered["call_1"]] == ["【0:0†a.md】"]
    assert [s.marker for s in numbered["call_2"]] == ["【0:1†b.md】"]
    assert [(s.marker, s.file_id, s.text) for s in numbered["call_3"]] == [("【2:0†c.md】", "f3", "C")]


def test_the_model_reads_each_result_under_its_marker() -> None:
    step = search_step("step_a", ("call_1", [result("f1", "guide.md", GUIDE, 0.8125)]))
    call = step.tool_calls()[0]
    text = call_output(call, numbered_results([step], {"step_a": 3})["call_1"])
    assert "【3:0†guide.md】 (score 0.812)\n" + GUIDE in text
    assert 'for "q"' in text


def test_no_results_say_so() -> None:
    assert "found nothing" in tool_output("opening hours", [])


def test_the_mock_model_quotes_what_the_executor_shows_it() -> None:
    """The context's format and the mock's reading of it agree: the e2e tests rest on this."""
    step = search_step("step_a", ("call_1", [result("f1", "guide.md", GUIDE), result("f2", "x.md", "Other.")]))
    output = call_output(step.tool_calls()[0], numbered_results([step], {"step_a": 0})["call_1"])
    calling: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "file_search", "arguments": '{"query":"q"}'}}
        ],
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": "When does it open?"}, calling]
    answer = decide([*messages, {"role": "tool", "tool_call_id": "call_1", "content": output}])
    assert isinstance(answer, Answer)
    assert answer.content == "The rooftop garden opens at 7 am. 【0:0†guide.md】"


def test_a_marker_becomes_a_citation_with_its_quote_and_position() -> None:
    text = "It closes at dusk 【0:0†guide.md】, and parking is free on Sundays【0:1†faq.txt】."
    first, second = sources().annotations(text)
    assert first == {
        "type": "file_citation",
        "text": "【0:0†guide.md】",
        "start_index": text.index("【0:0"),
        "end_index": text.index("【0:0") + len("【0:0†guide.md】"),
        "file_citation": {"file_id": "file-guide", "quote": "It closes at dusk."},
    }
    assert text[first["start_index"] : first["end_index"]] == first["text"]
    assert second["file_citation"] == {"file_id": "file-faq", "quote": "Parking is free on Sundays."}
    assert text[second["start_index"] : second["end_index"]] == "【0:1†faq.txt】"


def test_unknown_markers_stay_text_and_a_known_filename_still_counts() -> None:
    text = "Nothing here 【9:9†nowhere.pdf】 but dogs need a leash 【5:0†guide.md】."
    (only,) = sources().annotations(text)
    assert only["text"] == "【5:0†guide.md】"
    assert only["file_citation"] == {"file_id": "file-guide", "quote": "Dogs are welcome on a leash."}


def test_markers_streamed_in_pieces_are_announced_once_when_complete() -> None:
    citations = sources()
    scanner = citations.scanner()
    pieces = ["Opens at 7 am ", "【0:", "0†guide", ".md】 and ", "free parking【0:1†faq.txt】", " ok"]
    text, streamed = "", []
    for piece in pieces:
        text += piece
        streamed.append(scanner.scan(text))
    assert [len(found) for found in streamed] == [0, 0, 0, 1, 1, 0]
    assert [a["index"] for found in streamed for a in found] == [0, 1]
    final = citations.annotations(text)
    assert [{k: v for k, v in a.items() if k != "index"} for found in streamed for a in found] == final


def test_best_quote_is_the_sentence_that_matches_the_claim_or_the_whole_chunk() -> None:
    assert best_quote(GUIDE, "You may bring dogs, on a leash") == "Dogs are welcome on a leash."
    assert best_quote(GUIDE, "Unrelated words only") == GUIDE
    assert best_quote("One line\nno full stop", "line") == "One line no full stop"


class RecordingLedger:
    """Just enough of RunLedger for a Turn: what it emits and commits."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any]] = []

    def emit(self, events: list[tuple[str, Any]], holder: str) -> None:
        self.emitted += events

    def commit(self, record: Any, run: Any, change: Any) -> None:
        pass


def test_citations_and_file_links_share_one_annotation_numbering() -> None:
    """The SDK merges annotation deltas by index and refuses one without: both kinds count in one sequence."""
    ledger = RecordingLedger()
    run = Run(id="run_1", created_at=0, thread_id="thread_1", assistant_id="asst_1", model="m", instructions="")
    turn = Turn(
        ledger=ledger,  # type: ignore[arg-type]
        run=run,
        holder="h",
        citations=sources(),
        links={"sandbox:/mnt/data/plot.csv": "file-csv"},
        window_s=0,  # a delta per piece: the numbering must hold across deltas
    )
    for piece in ["Opens at 7 am 【0:0†guide.md】", ", data in sandbox:/mnt/data/plot.csv", " and 【0:1†faq.txt】."]:
        turn.feed(TextPiece(piece))
    streamed = [
        (a["index"], a["type"])
        for name, data in ledger.emitted
        if name == "thread.message.delta"
        for a in data["delta"]["content"][0]["text"].get("annotations", [])
    ]
    assert streamed == [(0, "file_citation"), (1, "file_path"), (2, "file_citation")]
    turn.ensure_message()
    turn.close_message(MessageStatus.COMPLETED)
    assert turn.message is not None
    kinds = [a["type"] for a in turn.message.content[0]["text"]["annotations"]]
    assert kinds == ["file_citation", "file_path", "file_citation"]
