"""The stream reader on what real servers send: split tool calls, chunks without choices, named events, reasoning,
errors mid-stream and cut-off streams; and the upstream's capabilities learned from its 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import metrics
from orchestrator.domain.models import Usage
from orchestrator.errors import UpstreamError
from workers.executor.capabilities import Capabilities, rejected_parameter
from workers.executor.chat_stream import (
    ENDED_EARLY,
    Finish,
    ReasoningPiece,
    TextPiece,
    ToolCallPiece,
    pieces,
    sse_events,
)
from workers.executor.llm import HTTP, OpenAIChatModel


def sse(*chunks: Any, done: bool = True) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        if isinstance(chunk, str):
            lines += chunk.split("\n")  # raw SSE text
        else:
            lines += [f"data: {json.dumps(chunk)}", ""]
    if done:
        lines += ["data: [DONE]", ""]
    return lines


def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_sse_events_skip_comments_and_join_data_lines() -> None:
    lines = [": keep-alive", "event: ping", "data: {}", "", "data: a", "data: b", "", ": x"]
    assert [(e.event, e.data) for e in sse_events(lines)] == [("ping", "{}"), (None, "a\nb")]


def test_a_tool_call_split_any_way_is_reassembled_by_index() -> None:
    lines = sse(
        choice({"tool_calls": [{"index": 0, "id": "call_1", "type": "function"}]}),
        choice({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        choice({"tool_calls": [{"index": 0, "function": {"name": "get_weather", "arguments": 'ty": 1}'}}]}),
        choice({}, "tool_calls"),
    )
    got = list(pieces(lines))
    assert got[:3] == [
        ToolCallPiece(0, None, "", "call_1"),
        ToolCallPiece(0, None, '{"ci'),
        ToolCallPiece(0, "get_weather", 'ty": 1}'),
    ]
    assert got[3] == Finish("tool_calls", None)


def test_chunks_without_choices_named_events_and_unknown_fields_are_tolerated() -> None:
    lines = sse(
        ": comment",
        'event: ping\ndata: {"type": "ping"}\n',
        {"id": "c", "choices": []},
        {"id": "c", "object": "chat.completion.chunk", "system_fingerprint": None, "x_vendor": {"a": 1}},
        choice({"role": "assistant", "content": "hi", "x_extra": True}),
        choice({"content": " there"}, "stop"),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    )
    assert list(pieces(lines)) == [
        TextPiece("hi"),
        TextPiece(" there"),
        Finish("stop", Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)),
    ]


def test_reasoning_is_kept_apart_from_the_answer() -> None:
    lines = sse(choice({"reasoning_content": "think"}), choice({"reasoning": "more"}), choice({"content": "A"}, "stop"))
    assert list(pieces(lines)) == [
        ReasoningPiece("think"),
        ReasoningPiece("more"),
        TextPiece("A"),
        Finish("stop", None),
    ]


@pytest.mark.parametrize(
    "error",
    [
        {"error": {"message": "upstream exploded", "type": "server_error", "code": 500}},
        'event: error\ndata: {"message": "upstream exploded"}\n',
    ],
)
def test_an_error_after_streaming_began_raises_with_the_upstream_words(error: Any) -> None:
    lines = sse(choice({"content": "Half"}), error, done=False)
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        got.extend(pieces(lines))
    assert got == [TextPiece("Half")]
    assert raised.value.code == "server_error" and "upstream exploded" in raised.value.message


def test_a_stream_cut_off_without_finish_or_done_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="ended before the answer was complete") as raised:
        list(pieces(sse(choice({"content": "cut"}), done=False)))
    assert raised.value.message == ENDED_EARLY


def test_a_finish_reason_then_a_clean_end_without_done_is_complete() -> None:
    assert list(pieces(sse(choice({"content": "ok"}, "stop"), done=False))) == [TextPiece("ok"), Finish("stop", None)]


def test_capabilities_drop_or_rename_what_the_upstream_rejected_for_a_while() -> None:
    clock = [0.0]
    capabilities = Capabilities("http://upstream/v1", remember_s=60, clock=lambda: clock[0])
    params = {"model": "m", "stream_options": {"include_usage": True}, "max_completion_tokens": 5}
    assert capabilities.adapt(params) == params
    capabilities.learn("stream_options")
    capabilities.learn("max_completion_tokens")
    assert capabilities.adapt(params) == {"model": "m", "max_tokens": 5}
    clock[0] = 61
    assert capabilities.adapt(params) == params  # forgotten: a fixed upstream gets the full request again


def test_rejected_parameter_names_only_what_was_sent_and_can_be_dropped() -> None:
    sent = {"stream_options": {}, "parallel_tool_calls": True}
    assert rejected_parameter("Unrecognized request argument supplied: stream_options", None, sent) == "stream_options"
    assert rejected_parameter("bad", "parallel_tool_calls", sent) == "parallel_tool_calls"
    assert rejected_parameter("max_completion_tokens is not supported", None, sent) is None
    assert rejected_parameter("messages must not be empty", "messages", sent) is None


class Upstream:
    """An OpenAI-compatible endpoint in-process (httpx transport) that rejects some parameters with 400s."""

    def __init__(self, rejects: set[str], body: list[str]) -> None:
        self.rejects = rejects
        self.body = body
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: Any) -> Any:
        sent = json.loads(request.content)
        self.requests.append(sent)
        for name in sorted(self.rejects & set(sent)):
            error = {"message": f"Unrecognized request argument supplied: {name}", "type": "invalid_request_error"}
            return HTTP.Response(400, json={"error": {**error, "param": name, "code": None}})
        text = "\n".join(self.body) + "\n"
        return HTTP.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})


def model_for(upstream: Upstream) -> OpenAIChatModel:
    client = HTTP.Client(transport=HTTP.MockTransport(upstream))
    return OpenAIChatModel("http://upstream.test/v1", "k", timeout_s=5, max_retries=0, http_client=client)


def test_a_rejected_parameter_is_retried_without_it_once_and_remembered() -> None:
    upstream = Upstream({"stream_options", "max_completion_tokens"}, sse(choice({"content": "ok"}, "stop")))
    model = model_for(upstream)
    before = metrics.UPSTREAM_FALLBACKS.labels(param="stream_options")._value.get()
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 7}
    assert list(model.stream(request)) == [TextPiece("ok"), Finish("stop", None)]
    assert [set(r) & {"stream_options", "max_completion_tokens", "max_tokens"} for r in upstream.requests] == [
        {"stream_options", "max_completion_tokens"},
        {"stream_options", "max_tokens"},
        {"max_tokens"},
    ]
    assert upstream.requests[-1]["max_tokens"] == 7
    upstream.requests.clear()
    assert list(model.stream(request)) == [TextPiece("ok"), Finish("stop", None)]
    assert len(upstream.requests) == 1  # the next run pays nothing
    assert metrics.UPSTREAM_FALLBACKS.labels(param="stream_options")._value.get() == before + 1


def test_any_other_400_is_an_invalid_prompt() -> None:
    upstream = Upstream({"messages"}, [])
    with pytest.raises(UpstreamError) as raised:
        list(model_for(upstream).stream({"model": "m", "messages": []}))
    assert raised.value.code == "invalid_prompt" and len(upstream.requests) == 1


def test_a_connection_dropped_mid_answer_fails_with_server_error() -> None:
    def dropping(request: Any) -> Any:
        def body() -> Iterator[bytes]:
            yield b'data: {"choices": [{"index": 0, "delta": {"content": "Half"}}]}\n\n'
            raise HTTP.ReadError("connection reset by peer")

        return HTTP.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    client = HTTP.Client(transport=HTTP.MockTransport(dropping))
    model = OpenAIChatModel("http://upstream.test/v1", "k", timeout_s=5, max_retries=0, http_client=client)
    got: list[Any] = []
    with pytest.raises(UpstreamError) as raised:
        got.extend(model.stream({"model": "m", "messages": []}))
    assert got == [TextPiece("Half")]
    assert raised.value.code == "server_error" and "dropped mid-answer" in raised.value.message


def test_a_finished_stream_is_read_to_its_end_so_its_connection_can_be_reused() -> None:
    ended: list[bool] = []

    def answer(request: Any) -> Any:
        def body() -> Iterator[bytes]:
            yield b'data: {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}\n\n'
            yield b"data: [DONE]\n\n"
            ended.append(True)  # only reached when the client reads past [DONE]

        return HTTP.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    client = HTTP.Client(transport=HTTP.MockTransport(answer))
    model = OpenAIChatModel("http://upstream.test/v1", "k", timeout_s=5, max_retries=0, http_client=client)
    assert list(model.stream({"model": "m", "messages": []})) == [TextPiece("ok"), Finish("stop", None)]
    assert ended == [True]
