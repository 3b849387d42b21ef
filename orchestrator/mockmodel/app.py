"""The mock model over HTTP: OpenAI's Chat Completions wire format (JSON and SSE) around `script.decide`."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from orchestrator.mockmodel import embeddings
from orchestrator.mockmodel.script import Answer, MockError, decide
from orchestrator.mockmodel.stream import DONE, SseStream, events

MODEL_ID = "mock"

# Looked up at call time, so tests can observe the pacing instead of waiting for it.
_sleep = asyncio.sleep


@dataclass(frozen=True)
class _ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    max_tokens: int | None
    stream: bool
    include_usage: bool
    sent: frozenset[str]  # the request's top-level fields, for the quirks that reject some


def create_app(latency_s: float = 0.0, token_delay_s: float = 0.0) -> FastAPI:
    """The mock's ASGI app. `latency_s` precedes each completion's first chunk, `token_delay_s` separates chunks."""
    app = FastAPI(title="Mock model", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "orchestrator"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/embeddings")
    async def create_embeddings(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        content, status = embeddings.response(body if isinstance(body, dict) else {})
        return _json(content, status=status)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        parsed = _parse_request(await request.body())
        if isinstance(parsed, MockError):
            return _json(parsed.body(), status=parsed.status)
        answer = decide(parsed.messages, parsed.tools, parsed.max_tokens, parsed.sent)
        if isinstance(answer, MockError):
            await _pause(latency_s)
            return _json(answer.body(), status=answer.status)
        first_delay_s = latency_s + answer.wait_s
        head = {"id": "chatcmpl-" + secrets.token_hex(12), "created": int(time.time()), "model": parsed.model}
        if parsed.stream:
            between_s = token_delay_s if answer.slow_s is None else answer.slow_s
            body = _sse(events(answer, head, parsed.include_usage), first_delay_s, between_s)
            return StreamingResponse(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        await _pause(first_delay_s)
        return _json(_completion(answer, head))

    return app


def _parse_request(raw: bytes) -> _ChatRequest | MockError:
    """The fields the mock uses; every other field is accepted and ignored, as a lenient upstream would."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _invalid("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return _invalid("'messages' must be a non-empty array of objects.")
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        return _invalid("'tools' must be an array.")
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        return _invalid("'max_completion_tokens' / 'max_tokens' must be a positive integer.")
    stream_options = body.get("stream_options")
    model = body.get("model")
    return _ChatRequest(
        model=model if isinstance(model, str) else MODEL_ID,
        messages=messages,
        tools=tools,
        max_tokens=max_tokens,
        stream=body.get("stream") is True,
        include_usage=isinstance(stream_options, dict) and stream_options.get("include_usage") is True,
        sent=frozenset(body),
    )


def _invalid(message: str) -> MockError:
    return MockError(400, message, "invalid_request_error")


def _completion(answer: Answer, head: dict[str, Any]) -> dict[str, Any]:
    choice = {"index": 0, "message": answer.message(), "logprobs": None, "finish_reason": answer.finish_reason}
    return {
        **head,
        "object": "chat.completion",
        "choices": [choice],
        "usage": answer.usage(),
        "system_fingerprint": None,
    }


async def _sse(stream: SseStream, first_delay_s: float, between_s: float) -> AsyncIterator[bytes]:
    for index, event in enumerate(stream.events):
        await _pause(first_delay_s if index == 0 else between_s)
        yield event
    if stream.done:
        yield DONE


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await _sleep(seconds)


def _json(content: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")
