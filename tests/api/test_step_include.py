"""include[] on run steps: file_search result content only when asked for, and nothing else can be asked for."""

from __future__ import annotations

from fastapi.testclient import TestClient

from orchestrator.domain.models import RunStep
from orchestrator.domain.step_include import SEARCH_RESULT_CONTENT
from orchestrator.store import RedisStore
from tests.api.conftest import HEADERS

RESULT = {"file_id": "file-1", "file_name": "a.md", "score": 0.5, "content": [{"type": "text", "text": "Cited."}]}


def searched_step(api: TestClient) -> str:
    """A run whose (stored) tool step holds one file_search result; returns the steps' URL."""
    assistant = api.post("/v1/assistants", json={"model": "m"}, headers=HEADERS).json()
    thread = api.post("/v1/threads", headers=HEADERS).json()
    run = api.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}, headers=HEADERS).json()
    call = {"id": "call_1", "type": "file_search", "file_search": {"ranking_options": {}, "results": [RESULT]}}
    step = RunStep(
        id="step_1",
        created_at=1,
        run_id=run["id"],
        assistant_id=assistant["id"],
        thread_id=thread["id"],
        type="tool_calls",
        step_details={"type": "tool_calls", "tool_calls": [call]},
    )
    store: RedisStore = api.app.state.store  # type: ignore[attr-defined]
    keys = store.keys
    store.put_indexed(
        [(keys.step("proj", thread["id"], step.id), step)], [(keys.steps("proj", thread["id"], run["id"]), step.id)]
    )
    return f"/v1/threads/{thread['id']}/runs/{run['id']}/steps"


def results(body: dict[str, object]) -> list[dict[str, object]]:
    call = body["step_details"]["tool_calls"][0]  # type: ignore[index]
    found: list[dict[str, object]] = call["file_search"]["results"]
    return found


def test_result_content_only_when_included(api: TestClient) -> None:
    url = searched_step(api)
    bare = {k: v for k, v in RESULT.items() if k != "content"}
    assert results(api.get(f"{url}/step_1", headers=HEADERS).json()) == [bare]
    assert results(api.get(url, headers=HEADERS).json()["data"][0]) == [bare]
    asked = {"include[]": SEARCH_RESULT_CONTENT}
    assert results(api.get(f"{url}/step_1", params=asked, headers=HEADERS).json()) == [RESULT]
    assert results(api.get(url, params=asked, headers=HEADERS).json()["data"][0]) == [RESULT]


def test_anything_else_in_include_is_refused_naming_the_param(api: TestClient) -> None:
    url = searched_step(api)
    response = api.get(url, params={"include[]": "step_details.secret"}, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "include"
    assert "step_details.secret" in response.json()["error"]["message"]
