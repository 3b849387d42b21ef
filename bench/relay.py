"""The per-token floor: a bare Redis pub/sub -> SSE relay (Starlette on uvicorn), nothing of ours in the way.

    python -m bench.relay --port 8765 --redis-url redis://127.0.0.1:6379/0

`GET /stream/{channel}` subscribes to the channel and relays each message as one SSE `data:` frame until `END`.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def create_app(redis_url: str) -> Starlette:
    client = aioredis.Redis.from_url(redis_url)

    async def stream(request: Request) -> StreamingResponse:
        channel = request.path_params["channel"]
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b": subscribed\n\n"
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    data: bytes = message["data"]
                    if data == b"END":
                        yield b"data: [DONE]\n\n"
                        return
                    yield b"data: " + data + b"\n\n"
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/stream/{channel}", stream)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.redis_url), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
