"""GET /v1/models: ORCH_MODELS when set; else the upstream's list (asked once a minute at most) plus the models of
the project's assistants; GET /v1/models/{id} answers 404 for any other."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestrator.services.models import ModelCatalog
from orchestrator.settings import get_settings
from tests.api.conftest import API_KEY, HEADERS, MakeApi

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_configured_models_are_the_list(make_api: MakeApi) -> None:
    api = make_api(models="alpha, beta,alpha", model_base_url="http://127.0.0.1:9/v1")
    api.post("/v1/assistants", headers=HEADERS, json={"model": "gamma"})
    listed = api.get("/v1/models", headers=AUTH).json()
    assert listed == {
        "object": "list",
        "data": [
            {"id": "alpha", "object": "model", "created": 0, "owned_by": "orchestrator"},
            {"id": "beta", "object": "model", "created": 0, "owned_by": "orchestrator"},
        ],
    }
    assert api.get("/v1/models/beta", headers=AUTH).json()["id"] == "beta"
    missing = api.get("/v1/models/gamma", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "The model 'gamma' does not exist or you do not have access to it."


def test_without_an_upstream_answer_the_assistants_models_are_listed(make_api: MakeApi) -> None:
    api = make_api(model_base_url="http://127.0.0.1:9/v1")  # nothing listens on port 9
    for model in ("org/model-b", "model-a", "model-a"):
        api.post("/v1/assistants", headers=HEADERS, json={"model": model})
    assert [m["id"] for m in api.get("/v1/models", headers=AUTH).json()["data"]] == ["model-a", "org/model-b"]
    assert api.get("/v1/models/org/model-b", headers=AUTH).json()["id"] == "org/model-b"


def test_the_upstream_list_is_asked_once_per_cache_period(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_get(url: str, **_: Any) -> httpx.Response:
        calls.append(url)
        body = {"data": [{"id": "up-1", "created": 5, "owned_by": "them"}, {"no": "id"}]}
        return httpx.Response(200, json=body, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    catalog = ModelCatalog(get_settings(model_base_url="http://upstream/v1/"), cache_s=3600)
    assert [m.wire() for m in catalog.upstream()] == [
        {"id": "up-1", "object": "model", "created": 5, "owned_by": "them"}
    ]
    catalog.upstream()
    assert calls == ["http://upstream/v1/models"]
    expired = ModelCatalog(get_settings(model_base_url="http://upstream/v1"), cache_s=0)
    expired.upstream()
    expired.upstream()
    assert len(calls) == 3
