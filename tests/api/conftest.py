"""An API on the real Redis with a key prefix of its own and a recording dispatcher, built with settings overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from orchestrator.api.app import create_app
from orchestrator.services.dispatch import Dispatcher
from orchestrator.settings import get_settings
from tests.support import RecordingDispatcher, unique_prefix

API_KEY = "sk-hostile-test"
HEADERS = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v2"}

MakeApi = Callable[..., TestClient]


@pytest.fixture
def make_api(real_redis: str) -> Iterator[MakeApi]:
    """`make_api(dispatcher=..., **settings)` starts an app (rate limit off unless given); all stop at teardown."""
    prefixes: list[str] = []
    clients: list[TestClient] = []

    def make(dispatcher: Dispatcher | None = None, **overrides: Any) -> TestClient:
        prefixes.append(unique_prefix())
        options: dict[str, Any] = {
            "redis_url": real_redis,
            "key_prefix": prefixes[-1],
            "api_keys": f"{API_KEY}=proj",
            "rate_limit_rps": 0,
            **overrides,
        }
        app = create_app(get_settings(**options), dispatcher=dispatcher or RecordingDispatcher())
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    r = redis.Redis.from_url(real_redis)
    for prefix in prefixes:
        doomed = list(r.scan_iter(match=f"{prefix}:*"))
        if doomed:
            r.delete(*doomed)


@pytest.fixture
def api(make_api: MakeApi) -> TestClient:
    return make_api()
