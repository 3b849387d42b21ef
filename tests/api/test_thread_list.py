"""`GET /v1/threads` (beyond OpenAI's API) over HTTP on a real server: OpenAI's list envelope and cursors, both ways
of creating a thread, deletion, the paging limits, and projects kept apart."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY, HEADERS, MakeApi

OTHER = {**HEADERS, "Authorization": "Bearer sk-other-project"}


def listed(api: TestClient, headers: dict[str, str] = HEADERS, **params: Any) -> dict[str, Any]:
    response = api.get("/v1/threads", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[str]:
    return [thread["id"] for thread in page["data"]]


def test_threads_list_like_the_other_listings_and_per_project(make_api: MakeApi) -> None:
    api = make_api(api_keys=f"{API_KEY}=proj,sk-other-project=other")
    assistant = api.post("/v1/assistants", json={"model": "m"}, headers=HEADERS).json()["id"]
    made = [api.post("/v1/threads", headers=HEADERS).json()["id"]]
    ran = api.post(
        "/v1/threads/runs",
        json={"assistant_id": assistant, "thread": {"messages": [{"role": "user", "content": "Hi"}]}},
        headers=HEADERS,
    )
    assert ran.status_code == 200, ran.text
    made.append(ran.json()["thread_id"])
    made.append(api.post("/v1/threads", json={"metadata": {"k": "v"}}, headers=HEADERS).json()["id"])

    page = listed(api)
    assert page == {
        "object": "list",
        "data": [api.get(f"/v1/threads/{i}", headers=HEADERS).json() for i in made[::-1]],
        "first_id": made[2],
        "last_id": made[0],
        "has_more": False,
    }
    first = listed(api, limit=2)
    assert (ids(first), first["has_more"]) == ([made[2], made[1]], True)
    assert ids(listed(api, limit=2, after=first["last_id"])) == [made[0]]
    assert ids(listed(api, order="asc")) == made
    assert ids(listed(api, order="asc", before=made[2], limit=1)) == [made[1]]

    other = listed(api, OTHER)
    assert (other["data"], other["first_id"], other["has_more"]) == ([], None, False)
    theirs = api.post("/v1/threads", headers=OTHER).json()["id"]
    assert ids(listed(api, OTHER)) == [theirs]
    assert theirs not in ids(listed(api))

    assert api.delete(f"/v1/threads/{made[1]}", headers=HEADERS).json()["deleted"] is True
    assert ids(listed(api)) == [made[2], made[0]]


def test_paging_limits_are_400s_naming_the_param(api: TestClient) -> None:
    for params, param in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"order": "newest"}, "order")):
        response = api.get("/v1/threads", params=params, headers=HEADERS)
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == param
    assert api.get("/v1/threads", headers={"Authorization": HEADERS["Authorization"]}).status_code == 400  # no beta
    assert api.get("/v1/threads", headers={"OpenAI-Beta": "assistants=v2"}).status_code == 401
