"""The only place errors become HTTP: OpenAI's envelope `{"error": {message, type, param, code}}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from orchestrator.api.responses import OrjsonResponse
from orchestrator.errors import InvalidRequest, NotFound, OrchestratorError, Unauthenticated

_OUR_CODES = {
    "object_above_max_properties",
    "string_above_max_length",
    "array_above_max_length",
    "invalid_function_name",
    "integer_out_of_range",
    "invalid_value",
}


def error_response(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> OrjsonResponse:
    headers = {"x-should-retry": "false"} if 400 <= status < 500 and status != 429 else None
    return OrjsonResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def _validation_error(exc: RequestValidationError) -> OrjsonResponse:
    error: dict[str, Any] = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    # Drop pydantic's union/tagged-union markers so the param reads like OpenAI's (`messages[0].content`).
    loc = [part for part in loc if not part.startswith(("str", "list[", "function-after", "tagged-union"))]
    param = ""
    for part in loc:
        param += f"[{part}]" if part.isdigit() else (f".{part}" if param else part)
    kind = str(error.get("type", ""))
    message = str(error.get("msg", "Invalid request."))
    if kind == "missing":
        message = f"Missing required parameter: '{param}'."
        code: str | None = "missing_required_parameter"
    elif kind == "extra_forbidden":
        message = f"Unrecognized request argument supplied: {param}"
        code = "unknown_parameter"
    elif kind == "too_long":
        message = f"Invalid '{param}': array too long. {message}"
        code = "array_above_max_length"
    elif kind == "string_too_long":
        message = f"Invalid '{param}': string too long. {message}"
        code = "string_above_max_length"
    else:
        message = f"Invalid '{param}': {message}" if param else message
        code = kind if kind in _OUR_CODES else "invalid_value"
    return error_response(400, message, param=param or None, code=code)


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
        return error_response(500, "The server had an error while processing your request.", type_="server_error")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> OrjsonResponse:
        if exc.status_code == 404:
            return error_response(404, f"Invalid URL ({request.method} {request.url.path})")
        return error_response(exc.status_code, str(exc.detail))
