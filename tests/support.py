"""Shared test doubles and helpers: a recording dispatcher, a scripted chat model, a real-server locator."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from orchestrator import embedded
from orchestrator.domain.models import Usage
from workers.executor.llm import Finish, Piece, TextPiece, ToolCallPiece

#: The canonical order of a run answering with text (§7.4.A), its message deltas folded into one entry.
PLAIN_TEXT_ORDER = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]


def collapse(names: Sequence[str]) -> list[str]:
    """Event names with runs of the same name folded into one, e.g. `thread.message.delta` x N -> one."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


@dataclass
class RecordingDispatcher:
    """Records what the API or executor sends to the pools instead of sending it."""

    runs: list[tuple[str, str, str, str]] = field(default_factory=list)
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ingests: list[tuple[str, str, str]] = field(default_factory=list)

    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None:
        self.runs.append((project, thread_id, run_id, token))

    def run_tool(self, tool_type: str, payload: dict[str, Any]) -> None:
        self.tools.append((tool_type, payload))

    def ingest_file(self, project: str, vector_store_id: str, file_id: str) -> None:
        self.ingests.append((project, vector_store_id, file_id))


@dataclass
class ScriptedModel:
    """A chat model that answers each call with the next scripted list of pieces."""

    turns: list[list[Piece]]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        self.requests.append(request)
        yield from self.turns.pop(0)


def text_turn(*words: str, reason: str = "stop", prompt: int = 10) -> list[Piece]:
    pieces: list[Piece] = [TextPiece(w) for w in words]
    pieces.append(
        Finish(reason, Usage(prompt_tokens=prompt, completion_tokens=len(words), total_tokens=prompt + len(words)))
    )
    return pieces


def call_turn(*calls: tuple[str, str]) -> list[Piece]:
    pieces: list[Piece] = []
    for index, (name, arguments) in enumerate(calls):
        pieces.append(ToolCallPiece(index=index, name=name, arguments=""))
        pieces.append(ToolCallPiece(index=index, name=None, arguments=arguments))
    pieces.append(Finish("tool_calls", Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)))
    return pieces


def real_redis_url(tmp_root: Path) -> tuple[str, embedded.EmbeddedRedis | None]:
    """The machine's Redis on 127.0.0.1:6379 (a db index of our own) if it answers, else an embedded server."""
    url = os.environ.get("ORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        return url, None
    except redis.ConnectionError:
        server = embedded.start(tmp_root / "valkey", persist=False)
        return server.url, server


def unique_prefix() -> str:
    return f"orchtest-{secrets.token_hex(4)}"
