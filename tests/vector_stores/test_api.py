"""/v1/vector_stores over HTTP (in process, real Redis, recorded dispatches): shapes, limits as 400s naming the
`param`, listing filters, batches and search."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import HEADERS
from tests.support import RecordingDispatcher
from tests.vector_stores.pdf import text_pdf
from workers.tools.file_search.ingest import ingest

FILE_HEADERS = {"Authorization": HEADERS["Authorization"]}


def _upload(api: TestClient, name: str, data: bytes) -> str:
    reply = api.post("/v1/files", headers=FILE_HEADERS, files={"file": (name, data)}, data={"purpose": "assistants"})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["id"])


def _ingest(api: TestClient) -> None:
    dispatcher: RecordingDispatcher = api.app.state.dispatcher  # type: ignore[attr-defined]
    state = api.app.state  # type: ignore[attr-defined]
    for entry in dispatcher.ingests:
        ingest(state.store, state.storage, *entry, None)
    dispatcher.ingests.clear()


def _error(reply: Any) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()["error"]
    return body


def test_a_store_is_created_ingested_listed_and_searched(api: TestClient) -> None:
    manual = _upload(api, "manual.pdf", text_pdf("To reset the router hold the red button for ten seconds."))
    recipes = _upload(api, "recipes.md", b"# Soup\nBoil the onions slowly for an hour.")
    created = api.post(
        "/v1/vector_stores",
        headers=HEADERS,
        json={"name": "docs", "file_ids": [manual, recipes], "metadata": {"k": "v"}},
    )
    assert created.status_code == 200, created.text
    store = created.json()
    assert set(store) == {
        "id", "object", "created_at", "name", "description", "usage_bytes", "file_counts", "status",
        "expires_after", "expires_at", "last_active_at", "metadata",
    }  # fmt: skip
    assert store["object"] == "vector_store" and store["status"] == "in_progress"
    assert store["file_counts"] == {"in_progress": 2, "completed": 0, "failed": 0, "cancelled": 0, "total": 2}
    _ingest(api)
    fetched = api.get(f"/v1/vector_stores/{store['id']}", headers=HEADERS).json()
    assert fetched["status"] == "completed" and fetched["file_counts"]["completed"] == 2
    listed = api.get("/v1/vector_stores", headers=HEADERS).json()
    assert [s["id"] for s in listed["data"]] == [store["id"]]
    files = api.get(f"/v1/vector_stores/{store['id']}/files?filter=completed", headers=HEADERS).json()
    assert {f["id"] for f in files["data"]} == {manual, recipes}
    assert files["data"][0]["object"] == "vector_store.file"
    assert api.get(f"/v1/vector_stores/{store['id']}/files?filter=failed", headers=HEADERS).json()["data"] == []

    found = api.post(
        f"/v1/vector_stores/{store['id']}/search", headers=HEADERS, json={"query": "how do I reset the router"}
    )
    assert found.status_code == 200, found.text
    page = found.json()
    assert page["object"] == "vector_store.search_results.page"
    assert page["search_query"] == ["how do I reset the router"] and page["has_more"] is False
    first = page["data"][0]
    assert first["file_id"] == manual and first["filename"] == "manual.pdf"
    assert "red button" in first["content"][0]["text"] and first["attributes"] == {}
    content = api.get(f"/v1/vector_stores/{store['id']}/files/{recipes}/content", headers=HEADERS).json()
    assert content["object"] == "vector_store.file_content.page"
    assert content["data"] == [{"type": "text", "text": "# Soup\nBoil the onions slowly for an hour."}]


def test_store_update_file_removal_and_delete(api: TestClient) -> None:
    file_id = _upload(api, "a.txt", b"alpha")
    store = api.post("/v1/vector_stores", headers=HEADERS, json={}).json()
    assert store["status"] == "completed" and store["file_counts"]["total"] == 0
    added = api.post(
        f"/v1/vector_stores/{store['id']}/files", headers=HEADERS, json={"file_id": file_id, "attributes": {"n": 1}}
    ).json()
    assert added["status"] == "in_progress" and added["attributes"] == {"n": 1}
    updated = api.post(
        f"/v1/vector_stores/{store['id']}",
        headers=HEADERS,
        json={"name": "renamed", "expires_after": {"anchor": "last_active_at", "days": 2}},
    ).json()
    assert updated["name"] == "renamed"
    assert updated["expires_at"] == updated["last_active_at"] + 2 * 86_400
    removed = api.delete(f"/v1/vector_stores/{store['id']}/files/{file_id}", headers=HEADERS).json()
    assert removed == {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}
    assert api.get(f"/v1/vector_stores/{store['id']}", headers=HEADERS).json()["file_counts"]["total"] == 0
    assert api.get(f"/v1/files/{file_id}", headers=FILE_HEADERS).status_code == 200  # the file itself stays
    gone = api.delete(f"/v1/vector_stores/{store['id']}", headers=HEADERS).json()
    assert gone == {"id": store["id"], "object": "vector_store.deleted", "deleted": True}
    missing = api.get(f"/v1/vector_stores/{store['id']}", headers=HEADERS)
    assert missing.status_code == 404 and f"'{store['id']}'" in _error(missing)["message"]


def test_batches_over_http(api: TestClient) -> None:
    ids = [_upload(api, f"f{i}.txt", f"batch file {i}".encode()) for i in range(3)]
    store = api.post("/v1/vector_stores", headers=HEADERS, json={}).json()
    batch = api.post(f"/v1/vector_stores/{store['id']}/file_batches", headers=HEADERS, json={"file_ids": ids}).json()
    assert batch["object"] == "vector_store.files_batch" and batch["file_counts"]["in_progress"] == 3
    _ingest(api)
    done = api.get(f"/v1/vector_stores/{store['id']}/file_batches/{batch['id']}", headers=HEADERS).json()
    assert done["status"] == "completed" and done["file_counts"]["completed"] == 3
    page = api.get(
        f"/v1/vector_stores/{store['id']}/file_batches/{batch['id']}/files?limit=2&order=asc", headers=HEADERS
    ).json()
    assert [f["id"] for f in page["data"]] == sorted(ids)[:2] and page["has_more"] is True
    rest = api.get(
        f"/v1/vector_stores/{store['id']}/file_batches/{batch['id']}/files?order=asc&after={page['last_id']}",
        headers=HEADERS,
    ).json()
    assert [f["id"] for f in rest["data"]] == sorted(ids)[2:] and rest["has_more"] is False
    cancelled = api.post(f"/v1/vector_stores/{store['id']}/file_batches/{batch['id']}/cancel", headers=HEADERS)
    assert cancelled.json()["status"] == "completed"  # nothing was left to cancel


def test_bad_input_names_its_param(api: TestClient) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/vector_stores", {"file_ids": ["file-nope"]}, "file_ids"),
        (
            "/v1/vector_stores",
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        ("/v1/vector_stores", {"expires_after": {"anchor": "last_active_at", "days": 400}}, "expires_after.days"),
        ("/v1/vector_stores", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ]
    for path, body, param in cases:
        reply = api.post(path, headers=HEADERS, json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert _error(reply)["param"] == param, (body, reply.json())
    overlap = api.post(
        "/v1/vector_stores",
        headers=HEADERS,
        json={
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150},
            }
        },
    )
    assert overlap.status_code == 400 and "chunk_overlap_tokens" in str(_error(overlap)["param"])
    store = api.post("/v1/vector_stores", headers=HEADERS, json={}).json()
    no_file = api.post(f"/v1/vector_stores/{store['id']}/files", headers=HEADERS, json={"file_id": "file-nope"})
    assert no_file.status_code == 400 and _error(no_file)["param"] == "file_id"
    batch = api.post(f"/v1/vector_stores/{store['id']}/file_batches", headers=HEADERS, json={})
    assert batch.status_code == 400
    search = api.post(
        f"/v1/vector_stores/{store['id']}/search", headers=HEADERS, json={"query": "q", "max_num_results": 51}
    )
    assert search.status_code == 400 and _error(search)["param"] == "max_num_results"
    filters = api.post(
        f"/v1/vector_stores/{store['id']}/search",
        headers=HEADERS,
        json={"query": "q", "filters": {"type": "eq", "key": "a", "value": 1}},
    )
    assert filters.status_code == 400 and "not supported" in _error(filters)["message"]
    assert api.post("/v1/vector_stores/vs_nope/search", headers=HEADERS, json={"query": "q"}).status_code == 404
    bad_filter = api.get(f"/v1/vector_stores/{store['id']}/files?filter=done", headers=HEADERS)
    assert bad_filter.status_code == 400 and _error(bad_filter)["param"] == "filter"


def test_another_projects_store_is_not_found(make_api: Any) -> None:
    api = make_api(api_keys="sk-hostile-test=proj,sk-other=other")
    store = api.post("/v1/vector_stores", headers=HEADERS, json={}).json()
    other = {**HEADERS, "Authorization": "Bearer sk-other"}
    assert api.get(f"/v1/vector_stores/{store['id']}", headers=other).status_code == 404
    assert api.get("/v1/vector_stores", headers=other).json()["data"] == []
