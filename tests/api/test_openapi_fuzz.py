"""The OpenAPI document is what the server does: schemathesis generates requests from it (valid and invalid ones)
against the app in-process, on the real Redis with a recording dispatcher, and finds no 5xx, no undocumented
status, and no response that breaks its documented schema (every error in the envelope). Bounded: a few examples
per operation."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from orchestrator.api.app import create_app
from orchestrator.settings import get_settings
from tests.api.conftest import API_KEY, HEADERS
from tests.support import RecordingDispatcher, unique_prefix

EXAMPLES = 10  # per operation and mode (40 pairs), besides the requests the checks add


def without_streaming(document: dict[str, Any]) -> dict[str, Any]:
    """The document minus `stream`: a streamed run never ends without workers, and streams are tested elsewhere.
    Bodies forbid unknown properties, so schemathesis then never asks for one (only its invalid cases might)."""
    document = copy.deepcopy(document)
    for schema in document["components"]["schemas"].values():
        schema.get("properties", {}).pop("stream", None)
    return document


def test_the_document_lists_the_real_error_statuses_and_no_422(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 20
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses or method == "post", (method, path)  # only for a reused Idempotency-Key
        assert {"400", "401", "429", "500", "503"} <= set(responses), (method, path)
        assert ("404" in responses) == ("{" in path or path == "/v1/threads/runs"), (method, path)
        assert ("413" in responses) == ("requestBody" in operation), (method, path)
        for status in ("400", "401", "503"):
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    runs = document["paths"]["/v1/threads/{thread_id}/runs"]["post"]["responses"]["200"]["content"]
    assert set(runs) == {"application/json", "text/event-stream"}


@pytest.fixture(scope="module")
def api_schema(real_redis: str) -> Iterator[Any]:
    prefix = unique_prefix()
    options = {"redis_url": real_redis, "key_prefix": prefix, "api_keys": f"{API_KEY}=proj", "rate_limit_rps": 0}
    app = create_app(get_settings(**options), dispatcher=RecordingDispatcher())
    schema = schemathesis.openapi.from_dict(without_streaming(app.openapi()))
    schema.app = app
    yield schema
    asgi.shutdown_lifespans()
    r = redis.Redis.from_url(real_redis)
    doomed = list(r.scan_iter(match=f"{prefix}:*"))
    if doomed:
        r.delete(*doomed)


def _names_a_missing_object(response: Any) -> bool:
    if response.status_code != 400:
        return False
    message = str(response.json().get("error", {}).get("message", ""))
    return message.startswith(("No file found with id", "No vector store found with id"))


def cases() -> list[Any]:
    """(method, path, mode) for every documented operation; building the document needs no Redis, so this runs
    at collection. Negative cases only where there is something to get wrong: a body or a query."""
    document = create_app(get_settings(api_keys="k=p")).openapi()
    params = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            negatable = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 2 if negatable else 1]:
                params.append(pytest.param(method.upper(), path, mode, id=f"{mode.value}-{method.upper()}-{path}"))
    return params


@pytest.mark.parametrize(("method", "path", "mode"), cases())
def test_generated_requests_find_no_5xx_and_no_schema_violation(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case: Any) -> None:
        response = case.call(headers=HEADERS)
        # Well-formed data may name files or vector stores that do not exist: OpenAI answered 400 naming the param,
        # which is no rejection of the data's shape. Every other check still applies to that response.
        # A static chunking strategy's overlap may be at most half its chunk size: a rule between two fields that
        # JSON Schema cannot state (the field's description says it), answered 400 as OpenAI did.
        overlap = response.status_code == 400 and str(response.json()["error"]["param"]).endswith("overlap_tokens")
        excluded = [positive_data_acceptance] if _names_a_missing_object(response) or overlap else []
        case.validate_response(response, headers=HEADERS, excluded_checks=excluded)

    call()
