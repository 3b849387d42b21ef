"""`RequestContext`: the outermost of our middlewares. It names the request (`x-request-id`, echoed or made), binds
that id to every log line the request writes, stamps OpenAI's response headers, and counts and logs the request
once its response starts (the time to the first byte, for streams).

A plain ASGI middleware rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs the app in a
task of its own and passes every response chunk through an in-memory stream, which cost a task switch and several
awaits per SSE event."""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import observe

log = structlog.get_logger(__name__)

OPENAI_VERSION = (b"openai-version", b"2020-10-01")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and value:
            return str(value.decode("latin-1"))
    return f"req_{uuid.uuid4().hex}"


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode("latin-1")),
                    OPENAI_VERSION,
                    (b"openai-processing-ms", str(int(elapsed * 1000)).encode()),
                ]
                _observe(scope, message["status"], elapsed)
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, stamped_send)


def _observe(scope: Scope, status: int, elapsed: float) -> None:
    template = getattr(scope.get("route"), "path", "unmatched")
    method = scope["method"]
    observe.http_request(method, template, status, elapsed)
    log.info("http.request", method=method, route=template, status=status, duration_ms=round(elapsed * 1000, 1))
