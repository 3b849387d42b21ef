"""`create_app(settings)`: wires the routers, error mapping and the resources opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry as SyncRetry

from orchestrator.api import errors, limits, openapi
from orchestrator.api.body_limit import BodyLimit
from orchestrator.api.idempotency import IdempotencyMiddleware, IdempotencyStore
from orchestrator.api.request_context import RequestContext
from orchestrator.api.responses import OrjsonResponse
from orchestrator.api.routes import assistants, events, files, models, ops, runs, threads, vector_stores
from orchestrator.api.routes import health as health_routes
from orchestrator.auth.authenticator import Authenticator
from orchestrator.auth.ratelimit import TokenBucket
from orchestrator.bus.redis_bus import RunEventBus
from orchestrator.files.storage import storage_from_settings
from orchestrator.ops.sampler import Sampler
from orchestrator.playground import routes as playground
from orchestrator.services.dispatch import CeleryDispatcher, Dispatcher, make_producer
from orchestrator.services.models import ModelCatalog
from orchestrator.settings import Settings
from orchestrator.store import Keys, RedisStore, clients


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory` when the API runs several worker processes."""
    from orchestrator.logging import configure_logging
    from orchestrator.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, settings.secrets())
    return create_app(settings)


def bounded_waits(settings: Settings, retry: type[SyncRetry] | type[AsyncRetry]) -> dict[str, Any]:
    """Client options that make a request give up on an unreachable Redis in about two timeouts (and answer 503)
    rather than in redis-py's default ten retries of five seconds each."""
    return {
        "socket_connect_timeout": settings.redis_timeout_s,
        "socket_timeout": settings.redis_timeout_s,
        "retry": retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), 1),
    }


def create_app(settings: Settings, dispatcher: Dispatcher | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = clients.for_settings(settings, health_check_interval=30, **bounded_waits(settings, SyncRetry))
        aclient = clients.async_state_client(
            settings.redis_url, cluster=settings.redis_cluster, **bounded_waits(settings, AsyncRetry)
        )
        keys = Keys(settings.key_prefix)
        app.state.settings = settings
        app.state.authenticator = Authenticator(settings.api_key_map(), aclient, keys)
        app.state.rate_limiter = TokenBucket(
            aclient, keys, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst
        )
        app.state.idempotency = IdempotencyStore(aclient, keys)
        app.state.store = RedisStore(
            client,
            keys,
            event_log_maxlen=settings.event_log_maxlen,
            event_log_ttl_s=settings.event_log_ttl_s,
            resend_after_s=settings.task_resend_after_s,
            max_active_runs=settings.max_active_runs,
        )
        app.state.aredis = aclient
        app.state.storage = storage_from_settings(settings)
        app.state.models = ModelCatalog(settings)
        producer = make_producer(settings.celery_broker_url, settings.celery_transport_options())
        app.state.dispatcher = dispatcher or CeleryDispatcher(producer)
        app.state.bus = RunEventBus(aclient, keys.run_channel(""))
        await app.state.bus.start()
        app.state.ops = Sampler(settings, app.state.store)
        app.state.ops.start()
        try:
            yield
        finally:
            await app.state.ops.stop()
            await app.state.bus.stop()
            await aclient.aclose()
            client.close()

    app = FastAPI(title="Orchestrator", version="0.1.0", lifespan=lifespan, default_response_class=OrjsonResponse)
    errors.install(app)
    limits.install(app)
    # Runs before threads: `POST /v1/threads/runs` (create and run) must not match `POST /v1/threads/{thread_id}`.
    for module in (assistants, runs, events, threads):
        app.include_router(module.router)
    app.include_router(files.router)
    app.include_router(models.router)
    app.include_router(ops.router)

    app.include_router(vector_stores.router)
    app.include_router(health_routes.router)
    app.include_router(playground.router)
    openapi.install(app)
    # Inside the request context below, so a replayed response carries a request id and is counted.
    app.add_middleware(IdempotencyMiddleware)
    # Outside every middleware that may read the body, inside the one that turns the unexpected into a 500.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_bytes,
        larger={"/v1/files": files.upload_limit(settings.max_file_bytes)},
    )
    app.add_middleware(errors.ServerErrors)

    # Outermost: names the request for every log line and response of the middlewares inside.
    app.add_middleware(RequestContext)
    return app
