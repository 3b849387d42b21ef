"""Reading a streamed Chat Completions answer as the protocol allows it, not as one server happens to send it.

Pure (no I/O): lines of Server-Sent Events in, typed pieces out. What real OpenAI-compatible servers do and this
reader accepts: tool calls whose id, type, name and arguments arrive split over chunks in any order (LiteLLM passes
a name that comes after its id), chunks with empty or no `choices` (usage-only chunks), comments, named events
(`event: ping`), unknown fields, and `reasoning_content` / `reasoning` deltas (not part of the answer). What it does
not take as an answer: an `error` object after streaming began, or an end with neither a `finish_reason` nor
`[DONE]` (a dropped connection): both raise `UpstreamError` with the upstream's own words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from orchestrator.domain.models import Usage
from orchestrator.errors import UpstreamError


@dataclass(frozen=True)
class TextPiece:
    text: str


@dataclass(frozen=True)
class ToolCallPiece:
    """A fragment of the tool call at `index`: any of its id, name and arguments, in whatever chunk they came."""

    index: int
    name: str | None
    arguments: str
    id: str | None = None


@dataclass(frozen=True)
class ReasoningPiece:
    """Reasoning the model streamed beside its answer; counted, never shown as the answer."""

    text: str


@dataclass(frozen=True)
class Finish:
    reason: str
    usage: Usage | None  # None: the upstream never said


Piece = TextPiece | ToolCallPiece | ReasoningPiece | Finish

ENDED_EARLY = "The model's stream ended before the answer was complete (no finish_reason and no [DONE])."


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: str


def sse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from SSE lines (as `httpx.Response.iter_lines()` gives them, without line ends)."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alives
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        yield SseEvent(event, "\n".join(data))


def pieces(lines: Iterable[str]) -> Iterator[Piece]:
    """The answer's pieces, ending with one `Finish`; raises `UpstreamError` for an error or a cut-off stream."""
    reason: str | None = None
    usage: Usage | None = None
    for event in sse_events(lines):
        if event.data.strip() == "[DONE]":
            yield Finish(reason or "stop", usage)
            return
        chunk = _json(event.data)
        if event.event == "error" or (isinstance(chunk, dict) and "error" in chunk and "choices" not in chunk):
            raise UpstreamError(_error_message(chunk, event.data), code="server_error")
        if event.event not in (None, "message", "chunk") or not isinstance(chunk, dict):
            continue  # `event: ping` and the like carry nothing of the answer
        usage = _usage(chunk.get("usage")) or usage
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            yield from _delta_pieces(choice.get("delta") or {})
            if choice.get("finish_reason"):
                reason = str(choice["finish_reason"])
    if reason is None:
        raise UpstreamError(ENDED_EARLY, code="server_error")
    # A finish_reason and then a clean end without [DONE]: some servers stop there, and nothing is missing.
    yield Finish(reason, usage)


def _delta_pieces(delta: Any) -> Iterator[Piece]:
    if not isinstance(delta, dict):
        return
    for key in ("reasoning_content", "reasoning"):
        if isinstance(delta.get(key), str) and delta[key]:
            yield ReasoningPiece(delta[key])
    content = delta.get("content")
    if isinstance(content, str) and content:
        yield TextPiece(content)
    for call in delta.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        yield ToolCallPiece(
            index=int(call.get("index", 0) or 0),
            name=function.get("name") or None,
            arguments=function.get("arguments") or "",
            id=call.get("id") or None,
        )


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    total = int(raw.get("total_tokens") or prompt + completion)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def _json(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _error_message(chunk: Any, raw: str) -> str:
    error = chunk.get("error") if isinstance(chunk, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"The model endpoint failed mid-answer: {error['message']}"
    if isinstance(error, str) and error:
        return f"The model endpoint failed mid-answer: {error}"
    return f"The model endpoint failed mid-answer: {raw[:500]}"
