"""The upstream model: a streaming Chat Completions call turned into typed pieces, errors into run error codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from orchestrator import metrics, observe
from orchestrator.domain.models import Usage
from orchestrator.errors import UpstreamError


@dataclass(frozen=True)
class TextPiece:
    text: str


@dataclass(frozen=True)
class ToolCallPiece:
    index: int
    name: str | None  # set on the first piece of a call
    arguments: str


@dataclass(frozen=True)
class Finish:
    reason: str
    usage: Usage


Piece = TextPiece | ToolCallPiece | Finish


class Closable(Protocol):
    def close(self) -> None: ...


class ChatModel(Protocol):
    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]: ...


class OpenAIChatModel:
    """Chat Completions through the official client, which already retries 429, 5xx and timeouts with backoff."""

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float, max_retries: int) -> None:
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        """Yield the completion's pieces; `on_open(stream)` lets a canceller close the connection mid-read."""
        try:
            with observe.timed(metrics.MODEL_REQUEST_DURATION):
                stream = self.client.chat.completions.create(
                    **request, stream=True, stream_options={"include_usage": True}
                )
                if on_open is not None:
                    on_open(stream)
                for piece in _pieces(stream):
                    if isinstance(piece, Finish):
                        observe.tokens(request["model"], piece.usage.prompt_tokens, piece.usage.completion_tokens)
                    yield piece
        except openai.RateLimitError as exc:
            observe.model_error("rate_limit")
            raise UpstreamError(f"The model is rate limited: {_message(exc)}", code="rate_limit_exceeded") from exc
        except (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError) as exc:
            observe.model_error("server")
            raise UpstreamError(f"The model endpoint failed: {_message(exc)}", code="server_error") from exc
        except openai.APIStatusError as exc:
            observe.model_error("invalid_request")
            raise UpstreamError(f"The model rejected the request: {_message(exc)}", code="invalid_prompt") from exc


def _pieces(stream: Any) -> Iterator[Piece]:
    reason = "stop"
    usage = Usage()
    for chunk in stream:
        if chunk.usage is not None:
            usage = Usage(
                prompt_tokens=chunk.usage.prompt_tokens or 0,
                completion_tokens=chunk.usage.completion_tokens or 0,
                total_tokens=chunk.usage.total_tokens or 0,
            )
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                yield TextPiece(delta.content)
            for call in delta.tool_calls or []:
                function = call.function
                yield ToolCallPiece(
                    index=call.index,
                    name=function.name if function and function.name else None,
                    arguments=(function.arguments or "") if function else "",
                )
            if choice.finish_reason:
                reason = choice.finish_reason
    yield Finish(reason=reason, usage=usage)


def _message(exc: openai.APIError) -> str:
    return str(getattr(exc, "message", None) or exc)
