"""The HTTP layer on a real server with a recording dispatcher: errors in OpenAI's envelope, limits that name
their `param`, auth, request ids, readiness and the metrics endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from orchestrator import health
from orchestrator.api.app import create_app
from orchestrator.settings import get_settings
from orchestrator.store import Keys
from tests.support import RecordingDispatcher, unique_prefix

KEY = "sk-api-test"
AUTH = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
def client(real_redis: str, prefix: str) -> Iterator[TestClient]:
    settings = get_settings(redis_url=real_redis, key_prefix=prefix, api_keys=f"{KEY}=proj")
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as test_client:
        yield test_client
    r = redis.Redis.from_url(real_redis)
    doomed = list(r.scan_iter(match=f"{prefix}:*"))
    if doomed:
        r.delete(*doomed)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "object_above_max_properties"),
        ({"model": "m", "metadata": {"k" * 65: "v"}}, "metadata", "string_above_max_length"),
        ({"model": "m", "name": "n" * 257}, "name", "string_above_max_length"),
        ({}, "model", "missing_required_parameter"),
        ({"model": "m", "temperature": 3}, "temperature", "invalid_value"),
        ({"model": "m", "tools": [{"type": "browser"}]}, "tools[0].type", "invalid_value"),
        (
            {"model": "m", "tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
            "invalid_function_name",
        ),
        ({"model": "m", "colour": "blue"}, "colour", "unknown_parameter"),
    ],
)
def test_assistant_limits_are_400s_naming_the_param(
    client: TestClient, body: dict[str, Any], param: str, code: str
) -> None:
    response = client.post("/v1/assistants", json=body, headers=AUTH)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert response.headers["x-should-retry"] == "false"
    assert client.get("/v1/assistants", headers=AUTH).json()["data"] == []  # nothing was written


def test_thread_and_run_limits(client: TestClient) -> None:
    too_many = {"messages": [{"role": "user", "content": "hi"}] * 33}
    assert error_of(client.post("/v1/threads", json=too_many, headers=AUTH))["param"] == "messages"
    empty_parts = {"messages": [{"role": "user", "content": []}]}
    assert client.post("/v1/threads", json=empty_parts, headers=AUTH).status_code == 400
    thread = client.post("/v1/threads", json={}, headers=AUTH).json()
    assistant = client.post("/v1/assistants", json={"model": "m"}, headers=AUTH).json()
    low_budget = {"assistant_id": assistant["id"], "max_completion_tokens": 100}
    response = client.post(f"/v1/threads/{thread['id']}/runs", json=low_budget, headers=AUTH)
    assert (response.status_code, error_of(response)["param"]) == (400, "max_completion_tokens")
    unknown = client.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": "asst_nope"}, headers=AUTH)
    assert unknown.status_code == 404
    assert error_of(unknown)["message"] == "No assistant found with id 'asst_nope'."
    bad_limit = client.get(f"/v1/threads/{thread['id']}/messages", params={"limit": 0}, headers=AUTH)
    assert (bad_limit.status_code, error_of(bad_limit)["param"]) == (400, "limit")


def test_auth_and_beta_header(client: TestClient) -> None:
    missing = client.get("/v1/assistants", headers={"OpenAI-Beta": "assistants=v2"})
    assert (missing.status_code, error_of(missing)["code"]) == (401, "invalid_api_key")
    wrong = client.get("/v1/assistants", headers={"Authorization": "Bearer nope", "OpenAI-Beta": "assistants=v2"})
    assert wrong.status_code == 401
    no_beta = client.get("/v1/assistants", headers={"Authorization": f"Bearer {KEY}"})
    assert (no_beta.status_code, error_of(no_beta)["code"]) == (400, "invalid_beta")
    assert "OpenAI-Beta: assistants=v2" in error_of(no_beta)["message"]


def test_unknown_routes_use_the_envelope(client: TestClient) -> None:
    response = client.get("/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404
    assert error_of(response)["type"] == "invalid_request_error"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    assert client.get("/v1/assistants", headers=AUTH).headers["x-request-id"].startswith("req_")
    echoed = client.get("/v1/assistants", headers={**AUTH, "x-request-id": "req_mine"})
    assert echoed.headers["x-request-id"] == "req_mine"


def test_readiness_names_the_pools_without_workers(client: TestClient, real_redis: str, prefix: str) -> None:
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["missing_pools"] == ["runs", "code_interpreter", "file_search"]
    r = redis.Redis.from_url(real_redis, decode_responses=True)
    health.beat(r, Keys(prefix), "runs", "w1")
    health.beat(r, Keys(prefix), "code_interpreter", "w2")
    assert client.get("/readyz").json()["missing_pools"] == ["file_search"]
    health.beat(r, Keys(prefix), "file_search", "w3")
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/v1/threads/thread_x", headers=AUTH)
    text = client.get("/metrics").text
    assert 'orchestrator_http_requests_total{method="GET",route="/v1/threads/{thread_id}",status="404"}' in text
