"""The Playground page and its assets: served without a key, under a strict CSP, and nothing outside `static/`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.playground import routes
from tests.api.conftest import MakeApi

CSP_PARTS = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def _secured(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for part in CSP_PARTS:
        assert part in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/playground", "/playground/"])
def test_the_page_is_served_without_a_key(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (routes.STATIC / "index.html").read_bytes()
    _secured(response)


def test_the_page_is_not_rate_limited(make_api: MakeApi) -> None:
    api = make_api(rate_limit_rps=1, rate_limit_burst=1)
    assert [api.get("/playground").status_code for _ in range(5)] == [200] * 5


def test_an_unchanged_asset_revalidates_to_304(api: TestClient) -> None:
    first = api.get("/playground")
    again = api.get("/playground", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    _secured(again)


def test_head_gives_the_length_without_the_body(api: TestClient) -> None:
    response = api.head("/playground/static/index.html")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == (routes.STATIC / "index.html").stat().st_size


@pytest.mark.parametrize(
    "path",
    [
        "/playground/static/nope.js",
        "/playground/static/../routes.py",
        "/playground/static/..%2froutes.py",
        "/playground/static/..%2f..%2f..%2fpyproject.toml",
        "/playground/static/%2fetc%2fpasswd",
        "/playground/static/",
        "/playground/static/views",
        "/playground/elsewhere",
    ],
)
def test_missing_files_and_paths_out_of_static_are_404_in_openais_envelope(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["type"], error["message"][:13]) == ("invalid_request_error", "Invalid URL (")
    _secured(response)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("views/ops.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("shot.png", "image/png"),
    ],
)
def test_each_kind_of_asset_gets_its_content_type(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content_type: str
) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b"x")
    monkeypatch.setattr(routes, "STATIC", tmp_path)
    response = api.get(f"/playground/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    _secured(response)


def test_files_of_other_kinds_and_symlinks_leading_out_are_not_served(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "notes.py").write_text("secret")
    (tmp_path / "outside.js").write_text("secret")
    (static / "inside.js").symlink_to(tmp_path / "outside.js")
    (static / "ok.js").write_text("ok")
    assert routes.resolve(static, "notes.py") is None
    assert routes.resolve(static, "inside.js") is None
    assert routes.resolve(static, "ok.js") == (static / "ok.js").resolve()
    assert routes.resolve(static, "nul\x00.js") is None


def test_the_page_is_not_in_the_openapi_document(api: TestClient) -> None:
    assert not [path for path in api.get("/openapi.json").json()["paths"] if "playground" in path]
