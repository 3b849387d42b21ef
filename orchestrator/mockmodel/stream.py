"""The SSE events of a streamed answer: OpenAI's clean shape, reshaped by the answer's stream quirks.

Pure: `events` turns an `Answer` into the exact bytes of each SSE event, and says whether `data: [DONE]` follows.
The quirks only rearrange, add or cut what OpenAI would send; what each stands for is listed in `script.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from orchestrator.mockmodel import quirks as q
from orchestrator.mockmodel.script import Answer, FinishReason

Delta = tuple[dict[str, Any], FinishReason | None]

PING = b"event: ping\ndata: {}\n\n"
COMMENT = b": still working\n\n"
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class SseStream:
    """The events to send, in order, each a whole `...\\n\\n` block; `done` says whether `data: [DONE]` ends them."""

    events: tuple[bytes, ...]
    done: bool


def events(answer: Answer, head: dict[str, Any], include_usage: bool) -> SseStream:
    quirks = answer.quirks
    deltas = answer.deltas()
    if q.LATE_NAME in quirks or q.LATE_ID in quirks:
        deltas = _late_headers(deltas, late_name=q.LATE_NAME in quirks, late_id=q.LATE_ID in quirks)
    if q.REASONING in quirks:
        deltas = _with_reasoning(deltas)
    cut = q.ERROR_MIDSTREAM in quirks or q.TRUNCATED in quirks
    if cut:
        deltas = _cut(deltas)
    with_usage = include_usage and q.NO_USAGE not in quirks

    base = {**head, "object": "chat.completion.chunk", "system_fingerprint": None}
    if with_usage:
        # OpenAI marks every chunk but the last with `usage: null` when usage was asked for.
        base["usage"] = None
    chunks = [_chunk(base, delta, finish_reason) for delta, finish_reason in deltas]
    if q.NAMED_EVENT in quirks:
        chunks = [_with_unknown_fields(chunk) for chunk in chunks]
    if q.NO_CHOICES in quirks:
        chunks = _with_choiceless_chunks(chunks, head, answer.prompt_tokens, with_usage=q.NO_USAGE not in quirks)
    if with_usage and not cut:
        chunks.append({**base, "choices": [], "usage": answer.usage()})

    frames = [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks]
    if q.NAMED_EVENT in quirks:
        frames = _with_named_events(frames)
    if q.ERROR_MIDSTREAM in quirks:
        # LiteLLM's shape: a bare error object as data, no event name, and the connection closes.
        frames.append(b"data: " + orjson.dumps({"error": q.MIDSTREAM_ERROR}) + b"\n\n")
    return SseStream(events=tuple(frames), done=not cut)


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish_reason: FinishReason | None) -> dict[str, Any]:
    return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def _late_headers(deltas: list[Delta], *, late_name: bool, late_id: bool) -> list[Delta]:
    """Each call's header without its name and/or id; they follow the call's first argument fragment."""
    out: list[Delta] = []
    pending: dict[int, list[dict[str, Any]]] = {}  # call index -> what to send after its first fragment
    for delta, finish_reason in deltas:
        calls = delta.get("tool_calls")
        if not calls:
            out.append((delta, finish_reason))
            continue
        (call,) = calls
        index = call["index"]
        if "id" in call:
            header = {k: v for k, v in call.items() if not (late_id and k == "id")}
            later: list[dict[str, Any]] = []
            if late_name:
                header.pop("function")
                later.append({"index": index, "function": {"name": call["function"]["name"]}})
            if late_id:
                later.append({"index": index, "id": call["id"]})
            pending[index] = later
            out.append(({**delta, "tool_calls": [header]}, finish_reason))
        else:
            out.append((delta, finish_reason))
            out.extend(({"tool_calls": [late]}, None) for late in pending.pop(index, []))
    return out


def _with_reasoning(deltas: list[Delta]) -> list[Delta]:
    """Reasoning before the answer: after the role chunk of a text answer, first of all before tool calls."""
    *content_pieces, last = q.REASONING_PIECES
    reasoning: list[Delta] = [({"reasoning_content": piece}, None) for piece in content_pieces]
    reasoning.append(({"reasoning": last}, None))
    at = 0 if deltas[0][0].get("tool_calls") else 1
    return [*deltas[:at], *reasoning, *deltas[at:]]


def _cut(deltas: list[Delta]) -> list[Delta]:
    """The deltas up to the `PIECES_BEFORE_CUT`-th piece of text or arguments, never the finish reason."""
    seen = 0
    for position, (delta, _) in enumerate(deltas):
        if _carries_output(delta):
            seen += 1
            if seen == q.PIECES_BEFORE_CUT:
                return deltas[: position + 1]
    return [(delta, None) for delta, finish_reason in deltas if finish_reason is None]


def _carries_output(delta: dict[str, Any]) -> bool:
    if delta.get("content"):
        return True
    return any(call.get("function", {}).get("arguments") for call in delta.get("tool_calls") or [])


def _with_unknown_fields(chunk: dict[str, Any]) -> dict[str, Any]:
    """Fields real servers add (OpenRouter's `provider`, Azure's filter results, LiteLLM's provider fields)."""
    choices = [
        {**choice, "content_filter_results": {}, "delta": {**choice["delta"], "provider_specific_fields": None}}
        for choice in chunk["choices"]
    ]
    return {**chunk, "provider": "mock", "choices": choices}


def _with_choiceless_chunks(
    chunks: list[dict[str, Any]], head: dict[str, Any], prompt_tokens: int, *, with_usage: bool
) -> list[dict[str, Any]]:
    """After each chunk, alternately one with `"choices": []` (vLLM's running usage) and one with no `choices`."""
    out: list[dict[str, Any]] = []
    completion_tokens = 0
    for number, chunk in enumerate(chunks):
        out.append(chunk)
        completion_tokens += sum(1 for choice in chunk["choices"] if choice["delta"].get("content"))
        if number % 2 == 0:
            extra: dict[str, Any] = {**head, "object": "chat.completion.chunk", "choices": []}
            if with_usage:
                extra["usage"] = _usage(prompt_tokens, completion_tokens)
        else:
            extra = {**head, "object": "chat.completion.chunk"}
        out.append(extra)
    return out


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _with_named_events(frames: Iterable[bytes]) -> list[bytes]:
    """A comment first, then after each data event alternately a named `ping` event and a comment."""
    out = [COMMENT]
    for number, frame in enumerate(frames):
        out += [frame, PING if number % 2 == 0 else COMMENT]
    return out
