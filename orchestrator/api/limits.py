"""HTTP answers of the limits (429 with `Retry-After`) and of `Idempotency-Key` (replays, 409, 422).

Kept beside `api/errors.py` rather than in it: Starlette picks the handler of the most specific class, so these
win over its catch-all for `OrchestratorError`.
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from starlette.responses import Response

from orchestrator.api.errors import error_response
from orchestrator.api.idempotency import IdempotentReplay
from orchestrator.errors import IdempotencyError, LimitExceeded


def install(app: FastAPI) -> None:
    @app.exception_handler(LimitExceeded)
    async def _limit(request: Request, exc: LimitExceeded) -> Response:
        response = error_response(429, exc.message, type_="requests", code=exc.code)
        # Whole seconds for HTTP; the SDKs also read the precise `retry-after-ms`.
        response.headers["retry-after"] = str(max(1, math.ceil(exc.retry_after_s)))
        response.headers["retry-after-ms"] = str(max(1, math.ceil(exc.retry_after_s * 1000)))
        return response

    @app.exception_handler(IdempotencyError)
    async def _idempotency(request: Request, exc: IdempotencyError) -> Response:
        response = error_response(exc.status, exc.message, param="Idempotency-Key", code=exc.code)
        response.headers["x-should-retry"] = "true" if exc.retryable else "false"
        return response

    @app.exception_handler(IdempotentReplay)
    async def _replay(request: Request, exc: IdempotentReplay) -> Response:
        stored = exc.response
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.media_type,
            headers={"idempotent-replayed": "true"},
        )
