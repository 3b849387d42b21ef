"""The OpenAPI document as the server really answers: every error in OpenAI's envelope, with the statuses each
operation can return (never FastAPI's default 422, which this API does not send), and event streams where a
request may ask for one."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from orchestrator.domain.request_schemas import JSON_VALUE, JSON_VALUE_NAME

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}

#: Statuses every /v1 operation may answer, and why.
_ALWAYS = {
    "400": "Invalid request: a parameter breaks a limit, or the OpenAI-Beta header is missing.",
    "401": "Missing or unknown API key.",
    "429": "Rate limit or active-run cap reached; see Retry-After.",
    "500": "Unexpected server error.",
    "503": "Redis is unreachable; retry after a brief wait.",
}
_WITH_IDS = {"404": "No such object in this project."}
_WITH_BODY = {"413": "The request body is larger than the server accepts."}
_POST = {
    "409": "The Idempotency-Key is in use by a request in progress, or its request streamed.",
    "422": "The Idempotency-Key was used before with a different request.",
}
#: Operations that answer with Server-Sent Events when the body says `"stream": true`.
_STREAMING = {("post", "/v1/threads/runs"), ("post", "/v1/threads/{thread_id}/runs")}
_STREAMING_SUFFIX = "/submit_tool_outputs"


def _errors(method: str, path: str, operation: dict[str, Any]) -> dict[str, str]:
    statuses = dict(_ALWAYS)
    if "{" in path or (method, path) == ("post", "/v1/threads/runs"):  # path ids, or an assistant_id in the body
        statuses.update(_WITH_IDS)
    if "requestBody" in operation:
        statuses.update(_WITH_BODY)
    if method == "post":
        statuses.update(_POST)
    return statuses


def _streams(method: str, path: str, operation: dict[str, Any]) -> bool:
    return (method, path) in _STREAMING or (method == "post" and path.endswith(_STREAMING_SUFFIX))


def rewrite(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (as FastAPI generated it) with real error responses and stream content types."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorResponse"] = ERROR_SCHEMA
    schemas[JSON_VALUE_NAME] = JSON_VALUE  # what the free-form parts of request bodies refer to
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path.startswith("/v1/"):
                for status, description in sorted(_errors(method, path, operation).items()):
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    }
            if _streams(method, path, operation):
                responses["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = rewrite(
                get_openapi(title=app.title, version=app.version, routes=app.routes, description=app.description)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
