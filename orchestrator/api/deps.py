"""Request dependencies: the store, the dispatcher, the settings, the caller's project (authenticated, rate
limited, idempotent POSTs), list paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from orchestrator.api import idempotency
from orchestrator.auth.authenticator import Authenticator, Principal
from orchestrator.auth.ratelimit import TokenBucket
from orchestrator.errors import InvalidRequest, LimitExceeded, Unauthenticated
from orchestrator.files.storage import Storage
from orchestrator.services.dispatch import Dispatcher
from orchestrator.settings import Settings
from orchestrator.store import RedisStore

# Every dependency is `async def`, even those that do no I/O: FastAPI runs a plain `def` dependency in its thread
# pool, one thread hop per dependency per request.

BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by setting the "
    "header 'OpenAI-Beta: assistants=v2'."
)


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _store(request: Request) -> RedisStore:
    store: RedisStore = request.app.state.store
    return store


async def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


async def _principal(request: Request) -> Principal:
    """The caller's key and project, once the key is known to be valid and within its rate limit."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.resolve(key.strip())
    if principal is None:
        raise Unauthenticated("Incorrect API key provided.")
    bucket: TokenBucket = request.app.state.rate_limiter
    wait_s = await bucket.take(principal.key_id)
    if wait_s > 0:
        raise LimitExceeded(
            f"Rate limit reached for this API key: {bucket.rate:g} requests per second, {bucket.burst} at once. "
            f"Please try again in {wait_s:.3g}s.",
            code="rate_limit_exceeded",
            retry_after_s=wait_s,
        )
    return principal


async def _project(principal: Annotated[Principal, Depends(_principal)]) -> str:
    """The caller's project on routes OpenAI serves without the OpenAI-Beta header (files, models)."""
    return principal.project


async def _beta(request: Request, principal: Annotated[Principal, Depends(_principal)]) -> str:
    if "assistants=v2" not in request.headers.get("openai-beta", ""):
        raise InvalidRequest(BETA_MESSAGE, code="invalid_beta")
    return principal.project


async def _idempotent(request: Request, project: Annotated[str, Depends(_beta)]) -> str:
    """A POST with an Idempotency-Key reserves it here, or is answered from its first response."""
    key = request.headers.get(idempotency.HEADER)
    if request.method == "POST" and key is not None:
        store: idempotency.IdempotencyStore = request.app.state.idempotency
        await idempotency.claim(request.scope, store, project, key, await request.body())
    return project


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[RedisStore, Depends(_store)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
StorageDep = Annotated[Storage, Depends(_storage)]
ProjectDep = Annotated[str, Depends(_idempotent)]
#: No Idempotency-Key handling: it would buffer a whole upload to compare bodies.
OpenProjectDep = Annotated[str, Depends(_project)]


@dataclass(frozen=True)
class Paging:
    limit: int
    order: Literal["asc", "desc"]
    after: str | None
    before: str | None


async def _paging(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> Paging:
    return Paging(limit=limit, order=order, after=after, before=before)


PagingDep = Annotated[Paging, Depends(_paging)]
