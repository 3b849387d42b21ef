"""A pass-through between a client and the mock model that notes when each streamed text chunk went by, so that
a token's latency to the client is measured from a known time (`time.monotonic()`, one clock for every process).

    python -m bench.tap --port 8766 --upstream http://127.0.0.1:8765/v1

Requests whose body holds a `tap-<12 hex>` mark are recorded; `GET /tap/{mark}` returns `[[seconds, text], ...]`.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MARK = re.compile(rb"tap-[0-9a-f]{12}")


def create_app(upstream: str) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream.rstrip("/") + "/", timeout=60)
    records: dict[str, list[tuple[float, str]]] = {}

    async def completions(request: Request) -> Response:
        body = await request.body()
        found = MARK.search(body)
        mark = found.group().decode() if found else None
        upstream_request = client.build_request(
            "POST", "chat/completions", content=body, headers={"content-type": "application/json"}
        )
        response = await client.send(upstream_request, stream=True)

        async def chunks() -> AsyncIterator[bytes]:
            pending = b""
            try:
                async for chunk in response.aiter_raw():
                    if mark is not None:
                        pending += chunk
                        *lines, pending = pending.split(b"\n")
                        now = time.monotonic()
                        for line in lines:
                            if line.startswith(b"data: {"):
                                choices = json.loads(line[6:]).get("choices") or [{}]
                                text = (choices[0].get("delta") or {}).get("content")
                                if text:
                                    records.setdefault(mark, []).append((now, text))
                    yield chunk
            finally:
                await response.aclose()

        media = response.headers.get("content-type", "application/json")
        return StreamingResponse(chunks(), status_code=response.status_code, media_type=media)

    async def models(request: Request) -> Response:
        response = await client.get("models")
        return Response(response.content, status_code=response.status_code, media_type="application/json")

    async def recorded(request: Request) -> Response:
        return JSONResponse(records.pop(request.path_params["mark"], []))

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models),
            Route("/tap/{mark}", recorded),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.upstream), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
