"""The Files API over ASGI on the real Redis: upload, list (purpose, order, after), retrieve, content, delete, the
size limit while reading, isolation between projects, and errors in the envelope naming the param."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY, MakeApi

AUTH = {"Authorization": f"Bearer {API_KEY}"}  # no OpenAI-Beta header: OpenAI serves files without it
OTHER = "sk-other-project"


@pytest.fixture
def api(make_api: MakeApi, tmp_path: Path) -> TestClient:
    return make_api(files_dir=str(tmp_path / "files"), max_file_bytes=1000, api_keys=f"{API_KEY}=proj,{OTHER}=other")


def upload(api: TestClient, name: str = "notes.txt", data: bytes = b"hello", purpose: str = "assistants") -> Any:
    return api.post("/v1/files", headers=AUTH, files={"file": (name, data)}, data={"purpose": purpose})


def test_upload_retrieve_content_delete(api: TestClient, tmp_path: Path) -> None:
    reply = upload(api, "notes.txt", b"hello files")
    assert reply.status_code == 200, reply.text
    file = reply.json()
    assert file["id"].startswith("file-") and len(file["id"]) == len("file-") + 22
    assert {k: file[k] for k in ("object", "bytes", "filename", "purpose", "status")} == {
        "object": "file",
        "bytes": 11,
        "filename": "notes.txt",
        "purpose": "assistants",
        "status": "processed",
    }
    assert file["expires_at"] is None and file["status_details"] is None
    assert api.get(f"/v1/files/{file['id']}", headers=AUTH).json() == file

    content = api.get(f"/v1/files/{file['id']}/content", headers=AUTH)
    assert content.content == b"hello files"
    assert content.headers["content-type"].startswith("text/plain")

    assert api.delete(f"/v1/files/{file['id']}", headers=AUTH).json() == {
        "id": file["id"],
        "object": "file",
        "deleted": True,
    }
    gone = api.get(f"/v1/files/{file['id']}", headers=AUTH)
    assert gone.status_code == 404 and file["id"] in gone.json()["error"]["message"]
    assert api.get(f"/v1/files/{file['id']}/content", headers=AUTH).status_code == 404
    assert api.delete(f"/v1/files/{file['id']}", headers=AUTH).status_code == 404
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()], "the bytes are removed too"


def test_list_filters_by_purpose_and_pages(api: TestClient) -> None:
    ids = [upload(api, f"f{i}.txt", purpose="vision" if i % 2 else "assistants").json()["id"] for i in range(5)]
    everything = api.get("/v1/files", headers=AUTH).json()
    assert [f["id"] for f in everything["data"]] == ids[::-1] and everything["has_more"] is False
    vision = api.get("/v1/files", headers=AUTH, params={"purpose": "vision"}).json()
    assert [f["id"] for f in vision["data"]] == [ids[3], ids[1]]
    first = api.get("/v1/files", headers=AUTH, params={"limit": 2, "order": "asc"}).json()
    assert [f["id"] for f in first["data"]] == ids[:2] and first["has_more"] is True
    rest = api.get("/v1/files", headers=AUTH, params={"limit": 10, "order": "asc", "after": ids[1]}).json()
    assert [f["id"] for f in rest["data"]] == ids[2:] and rest["has_more"] is False
    api.delete(f"/v1/files/{ids[3]}", headers=AUTH)
    vision = api.get("/v1/files", headers=AUTH, params={"purpose": "vision"}).json()
    assert [f["id"] for f in vision["data"]] == [ids[1]]


def test_another_project_sees_nothing(api: TestClient) -> None:
    file_id = upload(api).json()["id"]
    other = {"Authorization": f"Bearer {OTHER}"}
    assert api.get(f"/v1/files/{file_id}", headers=other).status_code == 404
    assert api.get(f"/v1/files/{file_id}/content", headers=other).status_code == 404
    assert api.delete(f"/v1/files/{file_id}", headers=other).status_code == 404
    assert api.get("/v1/files", headers=other).json()["data"] == []
    assert api.get(f"/v1/files/{file_id}", headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("form", "files", "param", "code"),
    [
        ({"purpose": "nonsense"}, {"file": ("a.txt", b"x")}, "purpose", "invalid_value"),
        ({"purpose": "assistants_output"}, {"file": ("a.txt", b"x")}, "purpose", "invalid_value"),
        ({}, {"file": ("a.txt", b"x")}, "purpose", "missing_required_parameter"),
        ({"purpose": "assistants"}, None, "file", "missing_required_parameter"),
    ],
)
def test_bad_uploads_name_the_param(
    api: TestClient, form: dict[str, str], files: dict[str, Any] | None, param: str, code: str
) -> None:
    reply = api.post("/v1/files", headers=AUTH, data=form, files=files)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


def test_a_file_over_the_limit_is_413_and_not_stored(api: TestClient) -> None:
    reply = upload(api, "big.bin", b"x" * 1001)
    assert reply.status_code == 413
    assert reply.json()["error"]["message"] == "File is too large. Files may be at most 1000 bytes."
    assert upload(api, "fits.bin", b"x" * 1000).status_code == 200
    assert [f["filename"] for f in api.get("/v1/files", headers=AUTH).json()["data"]] == ["fits.bin"]


def test_the_upload_limit_is_enforced_while_reading(api: TestClient) -> None:
    """A body past the upload's cap (the file plus the multipart envelope) is refused before it is read whole;
    other routes keep the general cap."""

    def chunks() -> Any:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        for _ in range(200):
            yield b"x" * 1024  # 200 KiB, past 1000 bytes + 64 KiB of slack

    reply = api.post("/v1/files", headers={**AUTH, "content-type": "multipart/form-data; boundary=b"}, content=chunks())
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "request_too_large"


def test_files_need_a_key(api: TestClient) -> None:
    assert api.get("/v1/files").status_code == 401


def test_a_deleted_file_leaves_the_vector_stores_that_held_it(api: TestClient) -> None:
    beta = {**AUTH, "OpenAI-Beta": "assistants=v2"}
    kept, doomed = upload(api, "kept.txt").json()["id"], upload(api, "doomed.txt").json()["id"]
    store = api.post("/v1/vector_stores", headers=beta, json={"file_ids": [kept, doomed]}).json()
    listed = api.get(f"/v1/vector_stores/{store['id']}/files", headers=beta).json()["data"]
    assert sorted(f["id"] for f in listed) == sorted([kept, doomed])
    api.delete(f"/v1/files/{doomed}", headers=AUTH)
    listed = api.get(f"/v1/vector_stores/{store['id']}/files", headers=beta).json()["data"]
    assert [f["id"] for f in listed] == [kept]
    assert api.get(f"/v1/vector_stores/{store['id']}", headers=beta).json()["file_counts"]["total"] == 1
