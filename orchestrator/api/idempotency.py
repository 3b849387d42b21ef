"""`Idempotency-Key` on POSTs: the first 2xx response is kept per project and key for 24 h and returned to a retry
instead of doing the work again.

Two halves meet in the request's scope. The dependency (`claim`, in the ProjectDep chain, once the project is
known) reserves the key or answers from what is stored; the ASGI middleware (`IdempotencyMiddleware`) sees the
response go out and stores it, or frees the key.

What a retry gets, with the same key:
- the first request finished with a 2xx: that response again (status and body), with `Idempotent-Replayed: true`;
- the first is still being processed: 409, which clients retry (`x-should-retry: true`);
- a different method, path or body: 422 `idempotency_key_reused`;
- the first failed (any non-2xx): nothing was kept, so the retry is processed afresh;
- the first streamed (`stream: true`): an event stream cannot be replayed, so the key is kept as used and the
  retry gets 409 `idempotency_key_streamed` (not retried), naming the run the stream announced and the route that
  streams its events again (`GET /v1/threads/{thread_id}/runs/{run_id}/events`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.errors import IdempotencyError, InvalidRequest
from orchestrator.store import Keys

log = structlog.get_logger(__name__)

HEADER = "idempotency-key"
#: How long a finished request's response is kept for its retries (as Stripe and OpenAI-style APIs do).
RESULT_TTL_S = 86_400
#: How long a key stays reserved by a request in progress; past it (its process died) a retry runs afresh.
PENDING_TTL_S = 60
#: A stream announces its run in its first events; past this many bytes the recorder stops looking.
_RUN_SCAN_BYTES = 65_536
MAX_KEY_LENGTH = 255
_SCOPE_KEY = "orchestrator.idempotency"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    media_type: str
    body: bytes


class IdempotentReplay(Exception):  # an outcome carried as an exception: its handler answers with the response
    """The request was answered before: its exception handler sends `response` again."""

    def __init__(self, response: StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.response = response


class IdempotencyStore:
    """The records under `Keys.idempotency`: JSON {state: pending | done | streamed, fp, status?, type?, body?}."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def key(self, project: str, idempotency_key: str) -> str:
        return self._keys.idempotency(project, hashlib.sha256(idempotency_key.encode()).hexdigest())

    async def reserve(self, redis_key: str, fingerprint: str) -> dict[str, Any] | None:
        """Reserve the key for this request (None), or return the record another request left there."""
        pending = orjson.dumps({"state": "pending", "fp": fingerprint})
        for _ in range(3):  # the record may expire between our SET NX and GET: then reserve again
            if await self._client.set(redis_key, pending, nx=True, ex=PENDING_TTL_S):
                return None
            raw = await self._client.get(redis_key)
            if raw is not None:
                record: dict[str, Any] = orjson.loads(raw)
                return record
        raise IdempotencyError(
            "This Idempotency-Key is being used by several requests at once.",
            status=409,
            code="idempotency_key_in_use",
            retryable=True,
        )

    async def keep(self, redis_key: str, fingerprint: str, response: StoredResponse) -> None:
        record = {
            "state": "done",
            "fp": fingerprint,
            "status": response.status,
            "type": response.media_type,
            "body": response.body.decode(),
        }
        await self._client.set(redis_key, orjson.dumps(record), ex=RESULT_TTL_S)

    async def keep_streamed(self, redis_key: str, fingerprint: str, run: dict[str, str] | None = None) -> None:
        record = {"state": "streamed", "fp": fingerprint, **(run or {})}
        await self._client.set(redis_key, orjson.dumps(record), ex=RESULT_TTL_S)

    async def release(self, redis_key: str) -> None:
        await self._client.delete(redis_key)


@dataclass
class _Slot:
    """This request's reservation, shared by the dependency (which makes it) and the middleware (which ends it)."""

    store: IdempotencyStore | None = None
    redis_key: str = ""
    fingerprint: str = ""


def _outcome(record: dict[str, Any], fingerprint: str) -> IdempotencyError | IdempotentReplay:
    if record.get("fp") != fingerprint:
        return IdempotencyError(
            "This Idempotency-Key was already used with a different request (method, path or body). A retry must "
            "send the same request; a new request needs a new key.",
            status=422,
            code="idempotency_key_reused",
            retryable=False,
        )
    if record["state"] == "done":
        return IdempotentReplay(StoredResponse(record["status"], record["type"], record["body"].encode()))
    if record["state"] == "streamed":
        run_id, thread_id = record.get("run_id"), record.get("thread_id")
        where = (
            f"Its run {run_id} streams its events again at GET /v1/threads/{thread_id}/runs/{run_id}/events."
            if run_id and thread_id
            else "The run it created is in the thread's list of runs."
        )
        return IdempotencyError(
            f"The request with this Idempotency-Key streamed its response, which cannot be sent again. {where}",
            status=409,
            code="idempotency_key_streamed",
            retryable=False,
        )
    return IdempotencyError(
        "A request with this Idempotency-Key is still being processed. Retry once it has finished.",
        status=409,
        code="idempotency_key_in_use",
        retryable=True,
    )


async def claim(scope: Scope, store: IdempotencyStore, project: str, idempotency_key: str, body: bytes) -> None:
    """Reserve `idempotency_key` for this request, or raise what a repeated request gets (see the module doc)."""
    slot = scope.get(_SCOPE_KEY)
    if not isinstance(slot, _Slot):  # the middleware is not installed (or this is not a POST)
        return
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters long.", param="Idempotency-Key"
        )
    fingerprint = hashlib.sha256(b"\n".join([scope["method"].encode(), scope["path"].encode(), body])).hexdigest()
    redis_key = store.key(project, idempotency_key)
    record = await store.reserve(redis_key, fingerprint)
    if record is not None:
        raise _outcome(record, fingerprint)
    slot.store, slot.redis_key, slot.fingerprint = store, redis_key, fingerprint


def _announced_run(line: bytes) -> dict[str, str] | None:
    if not line.startswith(b"data: {"):
        return None
    try:
        data = orjson.loads(line[len(b"data: ") :])
    except orjson.JSONDecodeError:
        return None
    if data.get("object") != "thread.run":
        return None
    return {"run_id": str(data.get("id")), "thread_id": str(data.get("thread_id"))}


class IdempotencyMiddleware:
    """Stores the response of a POST whose key `claim` reserved, as it goes out; frees the key when it failed.

    It passes every message on unchanged and at once, so streamed responses (SSE) are not held back.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        slot = _Slot()
        scope[_SCOPE_KEY] = slot
        recorder = _Recorder(slot)

        async def send_and_record(message: Message) -> None:
            await recorder.observe(message)
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            await recorder.close()


class _Recorder:
    def __init__(self, slot: _Slot) -> None:
        self._slot = slot
        self._status = 0
        self._media_type = ""
        self._chunks: list[bytes] = []
        self._done = False
        self._streaming = False  # still looking for the run a stream announces
        self._partial = b""
        self._seen = 0

    async def observe(self, message: Message) -> None:
        slot = self._slot
        if self._streaming:
            await self._find_run(message.get("body", b""))
            return
        if slot.store is None or self._done:
            return
        if message["type"] == "http.response.start":
            self._status = int(message["status"])
            headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            self._media_type = headers.get("content-type", "application/json")
            if self._media_type.startswith("text/event-stream") and 200 <= self._status < 300:
                self._done = self._streaming = True
                await self._safely(slot.store.keep_streamed(slot.redis_key, slot.fingerprint))
        elif message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._done = True
                # Kept before the last byte goes out, so a client that saw the response finds it on a retry.
                await self._finish(b"".join(self._chunks))

    async def _find_run(self, chunk: bytes) -> None:
        """Note the run a stream announces (`thread.run.created`), so a retry can be told where to follow it."""
        self._seen += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            run = _announced_run(line)
            if run is not None:
                self._streaming = False
                assert self._slot.store is not None
                await self._safely(self._slot.store.keep_streamed(self._slot.redis_key, self._slot.fingerprint, run))
                return
        if self._seen > _RUN_SCAN_BYTES:
            self._streaming = False

    async def _finish(self, body: bytes) -> None:
        slot = self._slot
        assert slot.store is not None
        if 200 <= self._status < 300:
            try:
                response = StoredResponse(self._status, self._media_type, body)
                body.decode()  # only text is kept; the API answers JSON
            except UnicodeDecodeError:
                await self._safely(slot.store.release(slot.redis_key))
                return
            await self._safely(slot.store.keep(slot.redis_key, slot.fingerprint, response))
        else:
            await self._safely(slot.store.release(slot.redis_key))

    async def close(self) -> None:
        """The request ended without a complete response (an error escaped): free the key for a retry."""
        if self._slot.store is not None and not self._done:
            self._done = True
            await self._safely(self._slot.store.release(self._slot.redis_key))

    async def _safely(self, write: Any) -> None:
        # The response itself must not fail because its record could not be written: the reservation then
        # lapses after PENDING_TTL_S and a retry is processed afresh.
        try:
            await write
        except Exception:
            log.exception("idempotency.record_failed")
