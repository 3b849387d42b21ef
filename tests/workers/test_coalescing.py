"""Delta coalescing: text pieces that come faster than the window go out as one delta, in order, never lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.domain.models import Run, Usage
from orchestrator.domain.status import MessageStatus
from workers.executor.interruptible import IDLE, read_until_stopped
from workers.executor.llm import Finish, Piece, TextPiece, ToolCallPiece
from workers.executor.turn import Turn

RUN = Run(
    id="run_1",
    created_at=0,
    thread_id="thread_1",
    assistant_id="asst_1",
    model="m",
    instructions="",
    tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
)
FINISH = Finish("stop", Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2))


class Ledger:
    """What a Turn emits and commits, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def emit(self, events: list[tuple[str, Any]], holder: str) -> None:
        self.events += events

    def commit(self, record: Any, run: Any, change: Any) -> None:
        self.events += change.events

    def texts(self) -> list[str]:
        return [d["delta"]["content"][0]["text"]["value"] for n, d in self.events if n == "thread.message.delta"]


def turn(window_s: float) -> tuple[Turn, Ledger]:
    ledger = Ledger()
    return Turn(ledger=ledger, run=RUN, holder="h", window_s=window_s), ledger  # type: ignore[arg-type]


def test_pieces_within_the_window_become_one_delta_and_the_message_keeps_them_all() -> None:
    current, ledger = turn(window_s=3600)
    words = [f"w{i} " for i in range(200)]
    for word in words:
        current.feed(TextPiece(word))
    assert ledger.texts() == ["w0 "]  # the first piece goes at once (first-token latency); the rest is held
    current.feed(FINISH)
    assert ledger.texts() == ["w0 ", "".join(words[1:])]
    change = current.close_message(MessageStatus.COMPLETED)
    assert change.docs[0].text() == "".join(words)  # type: ignore[union-attr]


def test_a_zero_window_sends_a_delta_per_piece() -> None:
    current, ledger = turn(window_s=0)
    for word in ["a", "b", "c"]:
        current.feed(TextPiece(word))
    assert ledger.texts() == ["a", "b", "c"]


def test_idle_sends_the_held_text() -> None:
    current, ledger = turn(window_s=3600)
    current.feed(TextPiece("a"))
    current.feed(TextPiece("b"))
    current.feed(TextPiece("c"))
    assert ledger.texts() == ["a"]
    current.feed(IDLE)
    assert ledger.texts() == ["a", "bc"]
    current.feed(IDLE)  # nothing held: nothing sent
    assert ledger.texts() == ["a", "bc"]


def test_held_text_goes_out_before_a_tool_call_and_closes_its_message() -> None:
    current, ledger = turn(window_s=3600)
    current.feed(TextPiece("Let me "))
    current.feed(TextPiece("check."))
    current.feed(ToolCallPiece(index=0, name="get_weather", arguments='{"city":"SF"}'))
    names = [n for n, _ in ledger.events]
    last_delta = max(i for i, n in enumerate(names) if n == "thread.message.delta")
    assert last_delta < names.index("thread.message.completed") < names.index("thread.run.step.delta")
    assert "".join(ledger.texts()) == "Let me check."
    (completed,) = [d for n, d in ledger.events if n == "thread.message.completed"]
    assert completed["content"][0]["text"]["value"] == "Let me check."


class Gated:
    """A model that sends one piece, waits for the test, then sends the rest (or fails)."""

    def __init__(self, fail: bool = False) -> None:
        self.go = threading.Event()
        self.fail = fail

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        yield TextPiece("a")
        self.go.wait(10)
        if self.fail:
            raise RuntimeError("upstream broke")
        yield TextPiece("b")
        yield FINISH


def test_idle_comes_when_the_model_pauses() -> None:
    model = Gated()
    items: list[object] = []
    for item in read_until_stopped(model, {}, stop=threading.Event(), still_running=lambda: True, idle_s=0.01):
        items.append(item)
        if item is IDLE:
            model.go.set()
    assert items[:2] == [TextPiece("a"), IDLE]
    assert [i for i in items if i is not IDLE] == [TextPiece("a"), TextPiece("b"), FINISH]


def test_text_before_a_failure_is_flushed_first() -> None:
    model = Gated(fail=True)
    model.go.set()
    items: list[object] = []
    with pytest.raises(RuntimeError, match="upstream broke"):
        for item in read_until_stopped(model, {}, stop=threading.Event(), still_running=lambda: True, idle_s=3600):
            items.append(item)
    assert items == [TextPiece("a"), IDLE]
