"""`GET /v1/threads/{thread_id}/runs/{run_id}/events` on a real server with a recording dispatcher (no workers):
a run cancelled while queued has ended, so its whole log is there to replay, resume, refuse and expire."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.bus.redis_bus import decode_entries
from orchestrator.settings import get_settings
from orchestrator.store import Keys
from tests.support import RecordingDispatcher, unique_prefix

KEY, OTHER_KEY, PROJECT = "sk-events-test", "sk-events-other", "proj"
AUTH = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}
TTL_S = 2


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
def client(real_redis: str, prefix: str) -> Iterator[TestClient]:
    settings = get_settings(
        redis_url=real_redis, key_prefix=prefix, api_keys=f"{KEY}={PROJECT},{OTHER_KEY}=other", event_log_ttl_s=TTL_S
    )
    with TestClient(create_app(settings, dispatcher=RecordingDispatcher())) as test_client:
        yield test_client
    r = redis.Redis.from_url(real_redis)
    doomed = list(r.scan_iter(match=f"{prefix}:*"))
    if doomed:
        r.delete(*doomed)


@pytest.fixture
def ended_run(client: TestClient) -> dict[str, Any]:
    assistant = client.post("/v1/assistants", json={"model": "m"}, headers=AUTH).json()
    thread = client.post("/v1/threads", json={}, headers=AUTH).json()
    run = client.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}, headers=AUTH).json()
    cancelled = client.post(f"/v1/threads/{thread['id']}/runs/{run['id']}/cancel", headers=AUTH).json()
    assert cancelled["status"] == "cancelled"
    assert isinstance(run, dict)
    return run


def _url(run: dict[str, Any]) -> str:
    return f"/v1/threads/{run['thread_id']}/runs/{run['id']}/events"


def _frames(body: str) -> list[dict[str, str]]:
    frames = []
    for block in body.split("\n\n"):
        if block:
            frames.append(dict(line.split(": ", 1) for line in block.split("\n")))
    return frames


def _log(real_redis: str, prefix: str, run: dict[str, Any]) -> list[tuple[str, str]]:
    r = redis.Redis.from_url(real_redis, decode_responses=True)
    entries = decode_entries(r.xrange(Keys(prefix).events(PROJECT, run["thread_id"], run["id"])))
    r.close()
    return [(entry.id, entry.event) for entry in entries]


def test_an_ended_run_replays_its_whole_log_then_done(
    client: TestClient, ended_run: dict[str, Any], real_redis: str, prefix: str
) -> None:
    response = client.get(_url(ended_run), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = _frames(response.text)
    assert frames[-1] == {"event": "done", "data": "[DONE]"}
    assert [(f["id"], f["event"]) for f in frames[:-1]] == _log(real_redis, prefix, ended_run)
    assert [f["event"] for f in frames[:-1]] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.cancelling",
        "thread.run.cancelled",
    ]


def test_resuming_gives_exactly_the_rest(client: TestClient, ended_run: dict[str, Any]) -> None:
    ids = [f["id"] for f in _frames(client.get(_url(ended_run), headers=AUTH).text)[:-1]]
    after_first = _frames(client.get(_url(ended_run), params={"after": ids[0]}, headers=AUTH).text)
    assert [f.get("id") for f in after_first] == [*ids[1:], None]
    # An EventSource reconnects to its first URL with the newest id in the header: the header wins.
    headers = {**AUTH, "Last-Event-ID": ids[2]}
    resumed = _frames(client.get(_url(ended_run), params={"after": ids[0]}, headers=headers).text)
    assert [f.get("id") for f in resumed] == [ids[3], None]


def test_resuming_after_the_last_event_is_204_so_an_eventsource_stops(
    client: TestClient, ended_run: dict[str, Any]
) -> None:
    last = _frames(client.get(_url(ended_run), headers=AUTH).text)[-2]["id"]
    response = client.get(_url(ended_run), headers={**AUTH, "Last-Event-ID": last})
    assert response.status_code == 204 and response.content == b""


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def test_positions_that_are_not_the_runs_are_400s_naming_the_param(
    client: TestClient, ended_run: dict[str, Any]
) -> None:
    error = _error(client.get(_url(ended_run), params={"after": "nope"}, headers=AUTH), 400)
    assert (error["param"], error["code"], error["type"]) == ("after", "invalid_value", "invalid_request_error")
    error = _error(client.get(_url(ended_run), headers={**AUTH, "Last-Event-ID": "1-0"}), 400)
    assert error["param"] == "Last-Event-ID" and "has no event with id '1-0'" in error["message"]


def test_unknown_runs_and_other_projects_runs_are_404(client: TestClient, ended_run: dict[str, Any]) -> None:
    other = {"Authorization": f"Bearer {OTHER_KEY}", "OpenAI-Beta": "assistants=v2"}
    assert "No run found" in _error(client.get(_url(ended_run), headers=other), 404)["message"]
    missing = {**ended_run, "id": "run_doesnotexist"}
    _error(client.get(_url(missing), headers=AUTH), 404)
    assert client.get(_url(ended_run), headers={"Authorization": "Bearer sk-wrong"}).status_code == 401


def test_a_finished_runs_log_expires_after_the_ttl(
    client: TestClient, ended_run: dict[str, Any], real_redis: str, prefix: str
) -> None:
    assert client.get(_url(ended_run), headers=AUTH).status_code == 200
    r = redis.Redis.from_url(real_redis)
    ttl = r.ttl(Keys(prefix).events(PROJECT, ended_run["thread_id"], ended_run["id"]))
    r.close()
    assert 0 < ttl <= TTL_S
    deadline = time.monotonic() + TTL_S + 5
    while (response := client.get(_url(ended_run), headers=AUTH)).status_code == 200:
        assert time.monotonic() < deadline, "the event log outlived its TTL"
        time.sleep(0.1)
    error = _error(response, 404)
    assert "are no longer available" in error["message"] and f"kept for {TTL_S} seconds" in error["message"]
    # The run itself is still there: only its events expired.
    assert client.get(f"/v1/threads/{ended_run['thread_id']}/runs/{ended_run['id']}", headers=AUTH).status_code == 200
