"""The Idempotency-Key middleware as plain ASGI, on fakeredis: a stream passes through unchanged (chunk by chunk)
while the run it announces is noted for retries; a request whose handler raises frees its key."""

from __future__ import annotations

import asyncio
from typing import Any

import fakeredis
import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from orchestrator.api.idempotency import IdempotencyMiddleware, IdempotencyStore, claim
from orchestrator.errors import IdempotencyError
from orchestrator.store import Keys

STREAM = [
    b'event: thread.run.created\ndata: {"id":"run_1","obj',  # an event split across two chunks
    b'ect":"thread.run","thread_id":"thread_1"}\n\n',
    b"event: done\ndata: [DONE]\n\n",
]


def scope() -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/v1/threads/thread_1/runs", "headers": []}


async def call(store: IdempotencyStore, *, fail: bool = False) -> list[Message]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await claim(scope, store, "proj", "key-1", b'{"stream": true}')
        if fail:
            raise RuntimeError("the handler broke")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for index, chunk in enumerate(STREAM):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(STREAM) - 1})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await IdempotencyMiddleware(app)(scope(), receive, send)
    return sent


def test_a_stream_passes_unchanged_and_its_run_is_noted_for_retries() -> None:
    async def scenario() -> None:
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
        store = IdempotencyStore(client, Keys("orchtest-idem"))
        sent = await call(store)
        assert [m.get("body") for m in sent[1:]] == STREAM
        record = orjson.loads(await client.get(store.key("proj", "key-1")) or "{}")
        assert (record["state"], record["run_id"], record["thread_id"]) == ("streamed", "run_1", "thread_1")
        with pytest.raises(IdempotencyError) as retried:
            await call(store)
        assert retried.value.status == 409 and retried.value.code == "idempotency_key_streamed"
        assert "/v1/threads/thread_1/runs/run_1/events" in retried.value.message

    asyncio.run(scenario())


def test_a_handler_that_raises_frees_the_key() -> None:
    async def scenario() -> None:
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
        store = IdempotencyStore(client, Keys("orchtest-idem"))
        with pytest.raises(RuntimeError):
            await call(store, fail=True)
        assert await client.get(store.key("proj", "key-1")) is None
        assert len(await call(store)) == 1 + len(STREAM)  # the retry is processed afresh

    asyncio.run(scenario())
