"""Keys, limits and Idempotency-Key over HTTP, on a real server with a recording dispatcher: stored keys and
their revocation, the per-key rate limit (429, Retry-After), the per-project active-run cap, and idempotent POSTs
(replay, reuse with another body, a request still in flight, failures not kept, per project)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.api.idempotency import IdempotencyStore
from orchestrator.auth.apikeys import ApiKeyStore
from orchestrator.settings import get_settings
from orchestrator.store import Keys
from tests.support import RecordingDispatcher, unique_prefix

BOOT_KEY, OTHER_KEY = "sk-limits-boot", "sk-limits-other"
BETA = {"OpenAI-Beta": "assistants=v2"}


def auth(key: str = BOOT_KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **BETA, **extra}


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
def sync_redis(real_redis: str, prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(real_redis, decode_responses=True)
    yield client
    doomed = list(client.scan_iter(match=f"{prefix}:*"))
    if doomed:
        client.delete(*doomed)
    client.close()


@pytest.fixture
def make_client(real_redis: str, prefix: str, sync_redis: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = get_settings(
            redis_url=real_redis,
            key_prefix=prefix,
            api_keys=f"{BOOT_KEY}=proj,{OTHER_KEY}=other",
            **overrides,
        )
        client = TestClient(create_app(settings, dispatcher=RecordingDispatcher()))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error: dict[str, Any] = body["error"]
    return error


# -- keys ---------------------------------------------------------------------------------------------------


def test_a_stored_key_works_until_it_is_revoked(
    make_client: Callable[..., TestClient], sync_redis: redis.Redis, prefix: str
) -> None:
    client = make_client()
    store = ApiKeyStore(sync_redis, Keys(prefix))
    record, key = store.create("proj_stored")
    created = client.post("/v1/assistants", json={"model": "m"}, headers=auth(key))
    assert created.status_code == 200, created.text
    assert client.get(f"/v1/assistants/{created.json()['id']}", headers=auth(BOOT_KEY)).status_code == 404
    store.revoke(record.id)
    deadline = time.monotonic() + 10
    while client.get("/v1/assistants", headers=auth(key)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key kept working"
        time.sleep(0.05)
    refused = client.get("/v1/assistants", headers=auth(key))
    assert error_of(refused)["code"] == "invalid_api_key"


# -- rate limit ---------------------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit_rps=0.01, rate_limit_burst=2)  # no refill within the test
    assert [client.get("/v1/assistants", headers=auth()).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/v1/assistants", headers=auth())
    assert limited.status_code == 429
    error = error_of(limited)
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) >= 1
    assert int(limited.headers["retry-after-ms"]) > 1000
    assert "x-should-retry" not in limited.headers  # the SDKs retry a 429 after Retry-After
    assert client.get("/v1/assistants", headers=auth(OTHER_KEY)).status_code == 200  # a bucket per key


def test_the_default_limit_does_not_bind_ordinary_use(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert {client.get("/v1/assistants", headers=auth()).status_code for _ in range(60)} == {200}


# -- active-run cap ------------------------------------------------------------------------------------------


def test_a_run_over_the_projects_cap_gets_429_until_one_ends(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_active_runs=2)
    assistant = client.post("/v1/assistants", json={"model": "m"}, headers=auth()).json()
    body = {"assistant_id": assistant["id"]}
    first = client.post("/v1/threads/runs", json=body, headers=auth()).json()
    assert client.post("/v1/threads/runs", json=body, headers=auth()).status_code == 200
    refused = client.post("/v1/threads/runs", json=body, headers=auth())
    assert refused.status_code == 429
    error = error_of(refused)
    assert (error["type"], error["code"]) == ("requests", "too_many_active_runs")
    assert "2 active runs" in error["message"]
    assert refused.headers["retry-after"] == "1"
    cancel = client.post(f"/v1/threads/{first['thread_id']}/runs/{first['id']}/cancel", headers=auth())
    assert cancel.json()["status"] == "cancelled"
    assert client.post("/v1/threads/runs", json=body, headers=auth()).status_code == 200


# -- Idempotency-Key ------------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_response(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    headers = auth(**{"Idempotency-Key": "create-tutor-1"})
    first = client.post("/v1/assistants", json={"model": "m", "name": "Tutor"}, headers=headers)
    again = client.post("/v1/assistants", json={"model": "m", "name": "Tutor"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert [a["id"] for a in client.get("/v1/assistants", headers=auth()).json()["data"]] == [first.json()["id"]]


def test_a_retried_run_creation_makes_one_run(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assistant = client.post("/v1/assistants", json={"model": "m"}, headers=auth()).json()
    thread = client.post("/v1/threads", headers=auth()).json()
    headers = auth(**{"Idempotency-Key": "run-1"})
    runs = [
        client.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}, headers=headers)
        for _ in range(3)
    ]
    assert {r.status_code for r in runs} == {200}
    assert len({r.json()["id"] for r in runs}) == 1
    assert len(client.get(f"/v1/threads/{thread['id']}/runs", headers=auth()).json()["data"]) == 1


def test_the_same_key_with_another_request_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    headers = auth(**{"Idempotency-Key": "k-1"})
    assert client.post("/v1/assistants", json={"model": "m"}, headers=headers).status_code == 200
    for method_path, body in (("/v1/assistants", {"model": "other"}), ("/v1/threads", {})):
        refused = client.post(method_path, json=body, headers=headers)
        assert refused.status_code == 422
        error = error_of(refused)
        assert (error["code"], error["param"]) == ("idempotency_key_reused", "Idempotency-Key")
        assert refused.headers["x-should-retry"] == "false"
    assert len(client.get("/v1/assistants", headers=auth()).json()["data"]) == 1


def test_a_key_still_in_flight_gets_a_retryable_409(
    make_client: Callable[..., TestClient], sync_redis: redis.Redis, prefix: str
) -> None:
    client = make_client()
    body = {"model": "m"}
    # What a first request leaves while it is being processed: the reservation, with its fingerprint.
    first = client.post("/v1/assistants", json=body, headers=auth(**{"Idempotency-Key": "probe"}))
    redis_key = IdempotencyStore(None, Keys(prefix)).key("proj", "probe")  # type: ignore[arg-type]
    fingerprint = orjson.loads(sync_redis.get(redis_key) or "{}")["fp"]
    pending = IdempotencyStore(None, Keys(prefix)).key("proj", "in-flight")  # type: ignore[arg-type]
    sync_redis.set(pending, orjson.dumps({"state": "pending", "fp": fingerprint}), ex=60)
    busy = client.post("/v1/assistants", json=body, headers=auth(**{"Idempotency-Key": "in-flight"}))
    assert busy.status_code == 409
    assert error_of(busy)["code"] == "idempotency_key_in_use"
    assert busy.headers["x-should-retry"] == "true"
    assert first.status_code == 200 and len(client.get("/v1/assistants", headers=auth()).json()["data"]) == 1


def test_a_failed_request_is_not_kept_so_its_retry_runs_afresh(
    make_client: Callable[..., TestClient], sync_redis: redis.Redis, prefix: str
) -> None:
    client = make_client()
    headers = auth(**{"Idempotency-Key": "bad-then-good"})
    missing = client.post("/v1/threads/thread_nope/runs", json={"assistant_id": "asst_nope"}, headers=headers)
    assert missing.status_code == 404
    assert not list(sync_redis.scan_iter(match=f"{prefix}:p:proj:idem:*"))
    again = client.post("/v1/threads/thread_nope/runs", json={"assistant_id": "asst_nope"}, headers=headers)
    assert again.status_code == 404 and "idempotent-replayed" not in again.headers


def test_keys_are_per_project_and_kept_for_a_day(
    make_client: Callable[..., TestClient], sync_redis: redis.Redis, prefix: str
) -> None:
    client = make_client()
    a = client.post("/v1/assistants", json={"model": "m"}, headers=auth(BOOT_KEY, **{"Idempotency-Key": "same"}))
    b = client.post("/v1/assistants", json={"model": "m"}, headers=auth(OTHER_KEY, **{"Idempotency-Key": "same"}))
    assert a.json()["id"] != b.json()["id"]
    (kept,) = sync_redis.scan_iter(match=f"{prefix}:p:proj:idem:*")
    assert 86_000 < sync_redis.ttl(kept) <= 86_400


def test_an_unusable_key_is_a_400_and_gets_ignored_on_reads(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    long_key = auth(**{"Idempotency-Key": "k" * 256})
    refused = client.post("/v1/assistants", json={"model": "m"}, headers=long_key)
    assert refused.status_code == 400 and error_of(refused)["param"] == "Idempotency-Key"
    assert client.get("/v1/assistants", headers=long_key).status_code == 200
