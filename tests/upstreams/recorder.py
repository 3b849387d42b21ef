"""A recording reverse proxy: sits between a real server under test and the mock model, and keeps what it was sent.

It answers the question "what did LiteLLM actually send upstream?" (which parameters it forwards, rewrites or drops)
without trusting LiteLLM's own logs. Responses are streamed through untouched, chunk by chunk.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.stack import free_port, wait_until


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class Recorder:
    """What has been forwarded so far; `base_url` is where the server under test should send its requests."""

    base_url: str
    _requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Recorded) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def completion_with(self, marker: str) -> Recorded | None:
        """The last chat completion request whose last message contains `marker` (a test's unique words)."""
        for recorded in reversed(self.requests()):
            messages = (recorded.body or {}).get("messages") or []
            if messages and marker in json.dumps(messages[-1]):
                return recorded
        return None

    def wait_for_completion_with(self, marker: str) -> Recorded:
        return wait_until(lambda: self.completion_with(marker), f"a forwarded request carrying {marker!r}")


def _app(upstream: str, recorder: Recorder) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(60.0))

    async def forward(request: Request) -> StreamingResponse:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorder.add(Recorded(request.method, request.url.path, headers, body))
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=raw,
            headers={k: v for k, v in headers.items() if k not in ("host", "content-length")},
        )
        response = await client.send(upstream_request, stream=True)

        async def relay() -> AsyncIterator[bytes]:
            # Raw bytes as they come, so a stream cut short upstream is cut short here too.
            async for chunk in response.aiter_raw():
                yield chunk

        passed = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        return StreamingResponse(
            relay(), status_code=response.status_code, headers=passed, background=BackgroundTask(response.aclose)
        )

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


@contextlib.contextmanager
def recording_proxy(upstream: str) -> Iterator[Recorder]:
    """Serve the recorder on a free port in a thread of this process, forwarding to `upstream` (a base URL)."""
    port = free_port()
    recorder = Recorder(base_url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _app(upstream, recorder), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="upstream-recorder", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the recording proxy to listen", timeout_s=10)
        yield recorder
    finally:
        server.should_exit = True
        thread.join(10)
