"""`GET /v1/ops/overview` on the API: any valid key, aggregates only, the deployment's state as it is now."""

from __future__ import annotations

from fastapi.testclient import TestClient

from orchestrator import health
from tests.api.conftest import HEADERS


def test_a_key_is_required(api: TestClient) -> None:
    response = api.get("/v1/ops/overview")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert api.get("/v1/ops/overview", headers={"Authorization": "Bearer sk-nope"}).status_code == 401


def test_the_overview_shows_active_runs_and_live_workers(api: TestClient) -> None:
    store = api.app.state.store  # type: ignore[attr-defined]
    health.beat(store.client, store.keys, "code_interpreter", "worker-ci-1")
    assistant = api.post("/v1/assistants", headers=HEADERS, json={"model": "mock"}).json()
    thread = api.post("/v1/threads", headers=HEADERS, json={}).json()
    run = api.post(f"/v1/threads/{thread['id']}/runs", headers=HEADERS, json={"assistant_id": assistant["id"]})
    assert run.status_code == 200, run.text

    # No OpenAI-Beta header needed: it is not an Assistants resource.
    response = api.get("/v1/ops/overview", headers={"Authorization": HEADERS["Authorization"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"at", "runs", "queues", "workers", "window_s", "totals", "series", "sources"}
    assert body["runs"] == {"queued": 1, "in_progress": 0, "requires_action": 0, "cancelling": 0}
    (worker,) = body["workers"]["code_interpreter"]
    assert worker["name"] == "worker-ci-1" and 0 <= worker["beat_age_s"] < 5
    assert body["workers"]["runs"] == []
    assert set(body["queues"]) == {"runs", "tools.code_interpreter", "tools.file_search"}
    assert set(body["totals"]) == {"runs_per_s", "created_per_s", "finished", "ttft_ms", "duration_ms"}
    assert set(body["totals"]["ttft_ms"]) == {"p50", "p90", "p99"}
    # The API sampled once at start (nobody watching), and again for this first request: the answer is fresh.
    point = body["series"][-1]
    assert len(body["series"]) == 2 and point["at"] == body["at"] and point["active"] == body["runs"]
    assert body["sources"] == {"targets": 1, "failed": []}  # no targets set: the API's own registry
    assert "proj" not in response.text and thread["id"] not in response.text


def test_it_is_not_in_the_openapi_document(api: TestClient) -> None:
    assert "/v1/ops/overview" not in api.get("/openapi.json").json()["paths"]
