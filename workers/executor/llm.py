"""The upstream model: a streaming Chat Completions call turned into typed pieces, errors into run error codes.

The official client makes the request (auth, retries of 429, 5xx and timeouts with backoff, error types); the
answer is read as raw SSE lines by `chat_stream`, which follows the protocol rather than the client's typed
chunks: those reject what real servers send (an error object mid-stream, named events) and cost half the worker's
CPU building objects we would only take apart again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Protocol

import openai

from orchestrator import metrics, observe
from orchestrator.errors import UpstreamError
from workers.executor.capabilities import FALLBACKS, Capabilities, rejected_parameter
from workers.executor.chat_stream import Finish, Piece, ReasoningPiece, TextPiece, ToolCallPiece, pieces

__all__ = [
    "ChatModel",
    "Closable",
    "Finish",
    "OpenAIChatModel",
    "Piece",
    "ReasoningPiece",
    "TextPiece",
    "ToolCallPiece",
]


def _http_library() -> ModuleType:
    """The HTTP library the openai client is built on: httpx, or the `httpx2` fork newer SDKs ship with. Errors
    raised while the stream is read come from it, and an `http_client` handed to the client must be one of its."""
    for base in openai.DefaultHttpxClient.__mro__:
        package = sys.modules.get(base.__module__.split(".")[0])
        if package is not None and hasattr(package, "HTTPError") and hasattr(package, "MockTransport"):
            return package
    raise ImportError("cannot tell which HTTP library the openai client uses")


HTTP = _http_library()


#: Lines read after `[DONE]` to finish a response; a server that goes on past that loses its connection instead.
_DRAIN_LINES = 8


class Closable(Protocol):
    def close(self) -> None: ...


class ChatModel(Protocol):
    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]: ...


class OpenAIChatModel:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float,
        max_retries: int,
        http_client: Any = None,  # an `HTTP.Client`, for tests
    ) -> None:
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries, http_client=http_client
        )
        self.capabilities = Capabilities(base_url)

    def stream(self, request: dict[str, Any], on_open: Any = None) -> Iterator[Piece]:
        """Yield the completion's pieces; `on_open(response)` lets a canceller close the connection mid-read."""
        wanted = {**request, "stream": True, "stream_options": {"include_usage": True}}
        for _ in range(len(FALLBACKS) + 1):  # at most one retry per parameter an upstream may reject
            params = self.capabilities.adapt(wanted)
            try:
                yield from self._read(params, on_open)
                return
            except openai.BadRequestError as exc:
                param = rejected_parameter(_message(exc), _param(exc), params)
                if param is None:
                    raise _invalid(exc) from exc
                self.capabilities.learn(param)  # and try again without it
        raise UpstreamError("The model rejected every form of the request.", code="invalid_prompt")

    def _read(self, params: dict[str, Any], on_open: Any) -> Iterator[Piece]:
        try:
            with (
                observe.timed(metrics.MODEL_REQUEST_DURATION),
                self.client.chat.completions.with_streaming_response.create(
                    model=params["model"], messages=[], stream=True, extra_body=_untyped(params)
                ) as response,
            ):
                if on_open is not None:
                    on_open(response)
                lines = response.iter_lines()
                for piece in pieces(lines):
                    if isinstance(piece, Finish) and piece.usage is not None:
                        observe.tokens(params["model"], piece.usage.prompt_tokens, piece.usage.completion_tokens)
                    elif isinstance(piece, ReasoningPiece):
                        metrics.MODEL_REASONING_DELTAS.inc()
                    yield piece
                _drain(lines)
        except openai.BadRequestError:
            raise
        except openai.RateLimitError as exc:
            observe.model_error("rate_limit")
            raise UpstreamError(f"The model is rate limited: {_message(exc)}", code="rate_limit_exceeded") from exc
        except (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError) as exc:
            observe.model_error("server")
            raise UpstreamError(f"The model endpoint failed: {_message(exc)}", code="server_error") from exc
        except openai.APIStatusError as exc:
            raise _invalid(exc) from exc
        except HTTP.TimeoutException as exc:
            observe.model_error("server")
            raise UpstreamError("The model endpoint stopped answering mid-answer.", code="server_error") from exc
        except HTTP.HTTPError as exc:
            observe.model_error("server")
            raise UpstreamError(f"The model's connection dropped mid-answer: {exc!r}", code="server_error") from exc
        except UpstreamError:
            observe.model_error("server")
            raise


def _untyped(params: dict[str, Any]) -> dict[str, Any]:
    """The request's body, handed to the client as `extra_body`, which it sends as given. Named arguments go
    through the client's `maybe_transform`, which walks every message against its TypedDict annotations: 0.5 ms of
    CPU per message, 516 ms for a context of 1,000 short messages (measured), where serialising them takes 1 ms.
    The body is already in the wire shape (context.py builds it), so there is nothing to transform."""
    return {key: value for key, value in params.items() if key not in ("model", "stream")}


def _drain(lines: Iterator[str]) -> None:
    """Read what follows `[DONE]` (a blank line, the end of the chunked body). A response read to its end hands its
    connection back to the pool; one closed early costs the next run a new connection (and, to a remote upstream, a
    TLS handshake): measured, 420 streams to the mock left 841 sockets in TIME_WAIT before, 2 after."""
    for _ in zip(lines, range(_DRAIN_LINES), strict=False):
        pass


def _invalid(exc: openai.APIStatusError) -> UpstreamError:
    observe.model_error("invalid_request")
    return UpstreamError(f"The model rejected the request: {_message(exc)}", code="invalid_prompt")


def _message(exc: openai.APIError) -> str:
    return str(getattr(exc, "message", None) or exc)


def _param(exc: openai.APIError) -> str | None:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("param"), str):
            return str(error["param"])
    return None
