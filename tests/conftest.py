"""Fixtures: a store on fakeredis or on a real Redis-protocol server, with a key prefix of this session's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import redis
import structlog

from orchestrator.store import Keys, RedisStore
from tests.support import RecordingDispatcher, real_redis_url, unique_prefix

# With `rich` installed (schemathesis brings it), structlog's unconfigured console draws each logged traceback with
# every local variable: up to a second apiece. Tests that never configure logging keep plain tracebacks.
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ]
)


@pytest.fixture(scope="session")
def real_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real server. Only keys under this session's prefixes are ever deleted."""
    url, server = real_redis_url(Path(tmp_path_factory.mktemp("redis")))
    yield url
    if server is not None:
        server.stop()


@pytest.fixture(params=[pytest.param("fake"), pytest.param("real", marks=pytest.mark.real)])
def redis_client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    if request.param == "fake":
        client: redis.Redis = fakeredis.FakeRedis(decode_responses=True)
        yield client
        return
    url = request.getfixturevalue("real_redis")
    client = redis.Redis.from_url(url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys() -> Keys:
    return Keys(unique_prefix())


@pytest.fixture
def store(redis_client: redis.Redis, keys: Keys) -> Iterator[RedisStore]:
    yield RedisStore(redis_client, keys)
    doomed = list(redis_client.scan_iter(match=f"{keys.prefix}:*", count=1000))
    if doomed:
        redis_client.delete(*doomed)


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()
