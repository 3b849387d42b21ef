"""/healthz (Redis answers), /readyz (Redis answers and every pool has a live worker), /metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator import health, metrics
from orchestrator.api.errors import error_response
from orchestrator.api.responses import OrjsonResponse

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    try:
        await request.app.state.aredis.ping()
    except Exception:
        return error_response(503, "Redis is not reachable.", type_="server_error")
    return PlainTextResponse("ok")


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    state = request.app.state
    try:
        await state.aredis.ping()
        alive = await asyncio.to_thread(health.workers_alive, state.store.client, state.store.keys)
    except Exception:
        return OrjsonResponse({"ready": False, "redis": False, "missing_pools": None}, status_code=503)
    missing = health.missing_pools(alive)
    body = {"ready": not missing, "redis": True, "workers": alive, "missing_pools": missing}
    return OrjsonResponse(body, status_code=503 if missing else 200)


@router.get("/metrics")
async def metrics_endpoint() -> Response:
    return Response(generate_latest(metrics.registry()), media_type=CONTENT_TYPE_LATEST)
