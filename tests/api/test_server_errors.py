"""5xx in OpenAI's envelope: an unexpected error is a logged 500, and Redis going away is a 503 that comes within
a bounded time (never a hang, never a plain-text 500), after which the API recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog
from fastapi.testclient import TestClient

from orchestrator.api.errors import SERVER_ERROR
from tests.api.conftest import HEADERS, MakeApi
from tests.api.tcp_proxy import TcpProxy
from tests.support import RecordingDispatcher

REDIS_TIMEOUT_S = 0.5


class ExplodingDispatcher(RecordingDispatcher):
    def execute_run(self, project: str, thread_id: str, run_id: str, token: str) -> None:
        raise RuntimeError("the dispatcher exploded")


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error: dict[str, Any] = body["error"]
    return error


def test_an_unexpected_error_is_a_logged_500_in_the_envelope(make_api: MakeApi) -> None:
    api = make_api(dispatcher=ExplodingDispatcher())
    assistant = api.post("/v1/assistants", json={"model": "m"}, headers=HEADERS).json()
    with structlog.testing.capture_logs() as logs:
        response = api.post("/v1/threads/runs", json={"assistant_id": assistant["id"]}, headers=HEADERS)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = error_of(response)
    assert (error["message"], error["type"]) == (SERVER_ERROR, "server_error")
    assert "exploded" not in response.text  # the traceback is logged, not sent
    unhandled = [entry for entry in logs if entry["event"] == "http.unhandled_error"]
    assert len(unhandled) == 1 and isinstance(unhandled[0]["exc_info"], RuntimeError)
    assert {"event": "http.request", "status": 500}.items() <= next(
        entry for entry in logs if entry["event"] == "http.request"
    ).items()


@pytest.fixture
def proxy(real_redis: str) -> Iterator[TcpProxy]:
    target = urlsplit(real_redis)
    tcp = TcpProxy((target.hostname or "127.0.0.1", target.port or 6379))
    tcp.start()
    yield tcp
    tcp.stop()


@pytest.fixture
def api_via_proxy(make_api: MakeApi, proxy: TcpProxy, real_redis: str) -> TestClient:
    url = f"redis://127.0.0.1:{proxy.port}{urlsplit(real_redis).path}"
    return make_api(redis_url=url, redis_timeout_s=REDIS_TIMEOUT_S)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    error = error_of(response)
    assert (error["type"], error["code"]) == ("server_error", "service_unavailable")
    assert response.headers["retry-after"] == "1"


def test_redis_stopped_is_a_503_until_it_is_back(api_via_proxy: TestClient, proxy: TcpProxy) -> None:
    api = api_via_proxy
    created = api.post("/v1/assistants", json={"model": "m"}, headers=HEADERS)
    assert created.status_code == 200
    proxy.stop()
    assert_unavailable(api.get("/v1/assistants", headers=HEADERS))
    assert_unavailable(api.post("/v1/assistants", json={"model": "m"}, headers=HEADERS))
    assert_unavailable(api.get(f"/v1/assistants/{created.json()['id']}", headers=HEADERS))
    assert_unavailable(api.post("/v1/threads", json={}, headers=HEADERS))
    assert api.get("/healthz").status_code == 503
    proxy.start()
    listed = api.get("/v1/assistants", headers=HEADERS)
    assert listed.status_code == 200 and [a["id"] for a in listed.json()["data"]] == [created.json()["id"]]


def test_redis_that_accepts_and_never_answers_is_a_503_not_a_hang(api_via_proxy: TestClient, proxy: TcpProxy) -> None:
    api = api_via_proxy
    assert api.get("/v1/assistants", headers=HEADERS).status_code == 200
    proxy.blackhole = True
    proxy.cut()
    started = time.monotonic()
    response = api.get("/v1/assistants", headers=HEADERS)
    elapsed = time.monotonic() - started
    assert_unavailable(response)
    # Two attempts of connect + reply timeouts at most, with room for a slow machine: bounded, not a hang.
    assert elapsed < 20 * REDIS_TIMEOUT_S, elapsed
