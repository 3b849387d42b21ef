"""The only place errors become HTTP: OpenAI's envelope `{"error": {message, type, param, code}}`, for every status,
5xx included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kombu.exceptions
import redis.exceptions
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.responses import OrjsonResponse
from orchestrator.domain.request_limits import MAX_JSON_DEPTH, printable
from orchestrator.domain.requests import CONTENT_PART_TYPES
from orchestrator.errors import InvalidRequest, NotFound, OrchestratorError, Unauthenticated

log = structlog.get_logger(__name__)

SERVER_ERROR = "The server had an error while processing your request."
UNAVAILABLE = "The server cannot reach its data store right now. Please retry your request after a brief wait."
BAD_JSON = (
    "We could not parse the JSON body of your request. The API expects a JSON object, and what was sent is not one."
)

_OUR_CODES = {
    "object_above_max_properties",
    "string_above_max_length",
    "array_above_max_length",
    "invalid_function_name",
    "integer_out_of_range",
    "invalid_value",
    "invalid_type",
    "invalid_unicode",
    "json_too_deep",
    "invalid_number",
    "missing_required_parameter",
    "unknown_parameter",
}
#: Pydantic's markers of which union member failed; OpenAI's `param` never shows them.
_UNION_MARKERS = ("str", "list[", "function-after", "function-before", "tagged-union", "dict[", "constrained-str")


def error_response(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> OrjsonResponse:
    headers = {"x-should-retry": "false"} if 400 <= status < 500 and status != 429 else None
    # A message may quote what the client sent, lone surrogates included, which JSON cannot encode.
    body = {"message": printable(message), "type": type_, "param": printable(param) if param else param, "code": code}
    return OrjsonResponse({"error": body}, status_code=status, headers=headers)


def _param(loc: tuple[Any, ...], at: str) -> str:
    param = ""
    for index, part in enumerate(loc):
        text = str(part)
        if part in ("body", "query", "path") or text.startswith(_UNION_MARKERS):
            continue
        # A content part's loc names its `type` after the index (`content, 0, text, text`); OpenAI's param does not.
        if text in CONTENT_PART_TYPES and index > 0 and isinstance(loc[index - 1], int) and index < len(loc) - 1:
            continue
        param += f"[{text}]" if isinstance(part, int) or text.isdigit() else (f".{text}" if param else text)
    if at.startswith("["):
        return param + at
    if at:
        return f"{param}.{at.lstrip('.')}" if param else at.lstrip(".")
    return param


def _first_error(errors: Sequence[Any]) -> dict[str, Any]:
    """The error to report. A union (`content`: a string or a list of parts) reports one error per member; the
    members whose type did not match at all say less than the one that matched and broke a limit."""
    telling = [e for e in errors if not str(e.get("type", "")).endswith("_type")]
    chosen: dict[str, Any] = (telling or list(errors))[0]
    return chosen


def _validation_error(exc: RequestValidationError) -> OrjsonResponse:
    error = _first_error(exc.errors())
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return error_response(400, BAD_JSON)
    loc = tuple(error.get("loc", ()))
    param = _param(loc, str(ctx.get("at", "")))
    message = str(error.get("msg", "Invalid request."))
    if kind in ("model_attributes_type", "dict_type", "model_type") and len(loc) <= 1:
        return error_response(400, BAD_JSON)
    code: str | None
    if kind == "missing":
        message, code = f"Missing required parameter: '{param}'.", "missing_required_parameter"
    elif kind == "extra_forbidden":
        message, code = f"Unrecognized request argument supplied: {param}", "unknown_parameter"
    elif kind == "too_long":
        message, code = f"Invalid '{param}': array too long. {message}", "array_above_max_length"
    elif kind == "string_too_long":
        given = len(error["input"]) if isinstance(error.get("input"), str) else "more"
        limit = ctx.get("max_length")
        message = (
            f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
            f"but got a string with length {given} instead."
        )
        code = "string_above_max_length"
    else:
        message = f"Invalid '{param}': {message}" if param else message
        code = kind if kind in _OUR_CODES else "invalid_value"
    return error_response(400, message, param=param or None, code=code)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def _http_error(request: Request, exc: HTTPException) -> OrjsonResponse:
    if exc.status_code == 404:
        return error_response(404, f"Invalid URL ({request.method} {request.url.path})")
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        response = error_response(
            405,
            f"Method {request.method} is not allowed on {request.url.path}. Allowed: {', '.join(allowed)}.",
            code="method_not_allowed",
        )
        response.headers["allow"] = ", ".join(allowed)
        return response
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        return error_response(400, f"{BAD_JSON} It is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
    if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not read the body as JSON
        return error_response(400, BAD_JSON)
    if exc.status_code == 413:
        return error_response(413, str(exc.detail), code="request_too_large")
    return error_response(exc.status_code, str(exc.detail))


#: Redis (or the broker on it) is away. The clients already waited a bounded time, so the request says so at once.
UNREACHABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


def unavailable() -> OrjsonResponse:
    response = error_response(503, UNAVAILABLE, type_="server_error", code="service_unavailable")
    response.headers["retry-after"] = "1"
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        return _validation_error(exc)

    @app.exception_handler(OrchestratorError)
    async def _ours(request: Request, exc: OrchestratorError) -> OrjsonResponse:
        if isinstance(exc, InvalidRequest):
            return error_response(400, exc.message, param=exc.param, code=exc.code)
        if isinstance(exc, NotFound):
            return error_response(404, exc.message)
        if isinstance(exc, Unauthenticated):
            return error_response(401, exc.message, code="invalid_api_key")
        log.error("http.unhandled_error", error=repr(exc))
        return error_response(500, SERVER_ERROR, type_="server_error")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> OrjsonResponse:
        return _http_error(request, exc)

    for unreachable in UNREACHABLE:

        @app.exception_handler(unreachable)
        async def _unavailable(request: Request, exc: Exception) -> OrjsonResponse:
            log.warning("http.redis_unavailable", error=repr(exc))
            return unavailable()


class ServerErrors:
    """ASGI middleware just inside the request log: what escaped the handlers (from the routes or from a middleware
    further in, such as authentication or idempotency) still answers in the envelope: 503 when Redis is away, the
    HTTP error it was, or a logged 500, never Starlette's plain-text 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # a stream broke midway: nothing can be said in its place
                raise
            await _answer(exc, scope)(scope, receive, send)


def _answer(exc: Exception, scope: Scope) -> OrjsonResponse:
    if isinstance(exc, UNREACHABLE):
        log.warning("http.redis_unavailable", error=repr(exc))
        return unavailable()
    if isinstance(exc, HTTPException):
        return _http_error(Request(scope), exc)
    log.error("http.unhandled_error", method=scope.get("method"), path=scope.get("path"), exc_info=exc)
    return error_response(500, SERVER_ERROR, type_="server_error")
