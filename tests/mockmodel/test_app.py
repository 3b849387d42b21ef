"""The mock model over real HTTP, driven by the official `openai` client (streaming and not)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from orchestrator.mockmodel import app as app_module
from orchestrator.mockmodel import create_app
from orchestrator.mockmodel.script import tool_call_id

CODE_INTERPRETER: Any = {"type": "function", "function": {"name": "code_interpreter", "parameters": {"type": "object"}}}
GET_WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
GET_TIME: Any = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


class _ThreadServer(uvicorn.Server):
    """Signals the end of startup, so tests wait on an event rather than polling `started`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free 127.0.0.1 port in a background thread; yields the `/v1` base URL."""
    # Binding here rather than in uvicorn hands back the port without a find-then-bind race.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _ThreadServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(timeout=10)
        assert server.started
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running(create_app()) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=base_url, api_key="any-key", max_retries=0) as client:
        yield client


def ask(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": text}], **kwargs)


# Text.


def test_non_streaming_text(client: openai.OpenAI) -> None:
    completion = ask(client, "Hello there")
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "mock-1"
    (choice,) = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "You said: Hello there"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 4)
    assert completion.usage.total_tokens == 6


def test_streaming_text_with_usage(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "[[text one two three]]", stream=True, stream_options={"include_usage": True}))
    *choice_chunks, usage_chunk = chunks
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert choice_chunks[0].choices[0].delta.role == "assistant"
    pieces = [chunk.choices[0].delta.content for chunk in choice_chunks[1:-1]]
    assert pieces == ["one", " two", " three"]
    assert [chunk.choices[0].finish_reason for chunk in choice_chunks] == [None] * 4 + ["stop"]
    assert all(chunk.usage is None for chunk in choice_chunks)
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (4, 3)


def test_streaming_without_usage_sends_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(ask(client, "[[long 4]]", stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "word1 word2 word3 word4"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_length_truncation(client: openai.OpenAI, field: str) -> None:
    completion = ask(client, "[[long 50]]", **{field: 5})
    assert completion.choices[0].message.content == "word1 word2 word3 word4 word5"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5

    chunks = list(ask(client, "[[long 50]]", stream=True, **{field: 5}))
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "word1 word2 word3 word4 word5"
    assert chunks[-1].choices[0].finish_reason == "length"


# Tool calls.


def test_streamed_tool_calls_reassemble(client: openai.OpenAI) -> None:
    text = 'Weather and time? [[call get_weather {"city": "San Francisco", "unit": "c"}]] [[call get_time]]'
    stream = ask(client, text, tools=[GET_WEATHER, GET_TIME], stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    for chunk in stream:
        choice = chunk.choices[0]
        finish_reasons.append(choice.finish_reason)
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            if delta.function is not None:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
    assert finish_reasons[-1] == "tool_calls"
    assert [calls[i] for i in sorted(calls)] == [
        {"id": tool_call_id(text, 0), "name": "get_weather", "arguments": '{"city":"San Francisco","unit":"c"}'},
        {"id": tool_call_id(text, 1), "name": "get_time", "arguments": "{}"},
    ]
    assert all(re.fullmatch(r"call_[0-9A-Za-z]{24}", call["id"]) for call in calls.values())


def test_stream_helper_accumulates_tool_calls(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="mock",
        messages=[{"role": "user", "content": '[[call get_weather {"city": "Paris"}]]'}],
        tools=[GET_WEATHER],
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})


def test_non_streaming_tool_calls(client: openai.OpenAI) -> None:
    completion = ask(client, "[[call get_time]] [[call unknown_tool]]", tools=[GET_TIME])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert [(call.function.name, call.function.arguments) for call in choice.message.tool_calls] == [("get_time", "{}")]


def test_math_tutor_round_trip(client: openai.OpenAI) -> None:
    question = "I need to solve the equation '3x + 11 = 14'. Can you help me?"
    messages: list[Any] = [
        {"role": "system", "content": "You are a math tutor."},
        {"role": "user", "content": question},
    ]
    first = client.chat.completions.create(model="mock", messages=messages, tools=[CODE_INTERPRETER])
    (call,) = first.choices[0].message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "code_interpreter"
    assert "print(x)" in json.loads(call.function.arguments)["code"]

    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "1.0\n"})
    second = client.chat.completions.create(model="mock", messages=messages, tools=[CODE_INTERPRETER])
    assert second.choices[0].finish_reason == "stop"
    assert "x = 1.0" in (second.choices[0].message.content or "")


# Errors.


@pytest.mark.parametrize(
    ("status", "exception", "kind"),
    [
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
        (400, openai.BadRequestError, "invalid_request_error"),
        (404, openai.NotFoundError, "invalid_request_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_error_directives_raise_the_matching_exception(
    client: openai.OpenAI, status: int, exception: type[openai.APIStatusError], kind: str, stream: bool
) -> None:
    with pytest.raises(exception) as caught:
        ask(client, f"[[error {status}]]", stream=stream)
    assert caught.value.status_code == status
    assert caught.value.body == {"message": f"mock error {status}", "type": kind, "param": None, "code": None}


# Raw HTTP.


def test_sse_framing_is_exactly_openais(base_url: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "[[text hi]]"}], "stream": True}
    with httpx.Client() as http, http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: {") for event in events[:-2])
    first = json.loads(events[0].removeprefix("data: "))
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    ]
    assert isinstance(first["created"], int)


def test_unknown_fields_and_any_authorization_are_accepted(base_url: str) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi", "name": "bob"}],
        "temperature": 0.2,
        "parallel_tool_calls": True,
        "some_future_field": {"x": 1},
    }
    with httpx.Client() as http:
        for headers in ({}, {"Authorization": "Bearer whatever"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
            response = http.post(f"{base_url}/chat/completions", json=body, headers=headers)
            assert response.status_code == 200
            assert response.json()["choices"][0]["message"]["content"] == "You said: hi"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"messages": []}', b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}'],
)
def test_malformed_requests_are_rejected_as_invalid(base_url: str, body: bytes) -> None:
    response = httpx.post(f"{base_url}/chat/completions", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_models_and_health(client: openai.OpenAI, base_url: str) -> None:
    assert [model.id for model in client.models.list()] == ["mock"]
    assert httpx.get(base_url.removesuffix("/v1") + "/healthz").json() == {"status": "ok"}


# Pacing: the sleeps are recorded instead of waited for.


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(app_module, "_sleep", record)
    return recorded


@pytest.fixture
def paced_client() -> Iterator[openai.OpenAI]:
    with (
        running(create_app(latency_s=0.25, token_delay_s=0.5)) as url,
        openai.OpenAI(base_url=url, api_key="k", max_retries=0) as client,
    ):
        yield client


def test_latency_precedes_the_first_chunk_and_token_delay_separates_chunks(
    paced_client: openai.OpenAI, slept: list[float]
) -> None:
    chunks = list(ask(paced_client, "[[text a b]]", stream=True, stream_options={"include_usage": True}))
    assert len(chunks) == 5
    assert slept == [0.25, 0.5, 0.5, 0.5, 0.5]


def test_slow_and_wait_directives_override_pacing(paced_client: openai.OpenAI, slept: list[float]) -> None:
    list(ask(paced_client, "[[text a b]] [[slow 2]] [[wait 1]]", stream=True))
    assert slept == [1.25, 2.0, 2.0, 2.0]


def test_non_streaming_and_errors_wait_only_for_latency(paced_client: openai.OpenAI, slept: list[float]) -> None:
    ask(paced_client, "[[long 20]]")
    with pytest.raises(openai.RateLimitError):
        ask(paced_client, "[[error 429]]")
    assert slept == [0.25, 0.25]


def test_stream_can_be_abandoned_mid_way(base_url: str) -> None:
    with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as client:
        stream = ask(client, "[[long 3]] [[slow 30]]", stream=True)
        first = next(iter(stream))
        stream.close()
        assert first.choices[0].delta.role == "assistant"
        # The server keeps serving after the client walked away from a slow stream.
        assert ask(client, "[[text still here]]").choices[0].message.content == "still here"
