"""`GET /v1/ops/overview`: what the deployment is doing, for the Playground's operations view.

Any valid API key may read it, as any /v1 route. It shows only aggregates over all projects (runs by status, queue
depths, worker heartbeats, run rates and latency quantiles) and no object of any project: what `/metrics` and
`/readyz` already serve without a key. Beyond OpenAI's API, so it is left out of the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from orchestrator.api.deps import OpenProjectDep
from orchestrator.api.errors import error_response
from orchestrator.api.responses import OrjsonResponse
from orchestrator.ops.sampler import FIRST_SAMPLE_WAIT_S, NoSample, Sampler

router = APIRouter(include_in_schema=False)


@router.get("/v1/ops/overview")
async def overview(request: Request, project: OpenProjectDep) -> Response:
    sampler: Sampler = request.app.state.ops
    try:
        body = await sampler.overview()
    except NoSample:
        response = error_response(
            503,
            f"The operations overview has no sample yet (none within {FIRST_SAMPLE_WAIT_S:g} s). "
            "Please retry after a brief wait.",
            type_="server_error",
            code="service_unavailable",
        )
        response.headers["retry-after"] = "2"
        return response
    return OrjsonResponse(body)
