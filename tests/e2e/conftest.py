"""Real `orchestrator up` stacks for the e2e suite, started once per session and stopped with SIGTERM.

* `stack`: the embedded Valkey server, two projects (`KEY_A` -> `PROJECT_A`, `KEY_B` -> `PROJECT_B`).
* `redis_stack`: the same on the machine's real Redis 7 (db 13, a unique key prefix), for the seed example.
* `expiry_stack`: runs expire after `EXPIRY_S` seconds and the sweeper looks every 0.2 s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import openai
import pytest
import redis

from tests.stack import KEY_A, KEY_B, Stack, running_stack

REAL_REDIS_URL = "redis://127.0.0.1:6379/13"
EXPIRY_S = 3  # whole seconds from creation, so the effective window is 2-3 s


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The main stack on the embedded server."""
    # Keep-alives after one quiet second, so a test can see them during a short tool call.
    with running_stack(tmp_path_factory.mktemp("stack"), env={"ORCH_SSE_KEEPALIVE_S": "1"}) as running:
        yield running


@pytest.fixture(scope="package")
def redis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack on the machine's real Redis 7; only the keys under its own prefix are removed afterwards."""
    client = redis.Redis.from_url(REAL_REDIS_URL, socket_connect_timeout=1)
    try:
        version = str(client.info("server")["redis_version"])
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis at {REAL_REDIS_URL}: {exc}")
    assert int(version.split(".")[0]) >= 7, f"expected Redis 7 or newer at {REAL_REDIS_URL}, found {version}"
    prefix = f"e2e-{uuid.uuid4().hex[:12]}"
    try:
        with running_stack(
            tmp_path_factory.mktemp("redis-stack"),
            env={"ORCH_KEY_PREFIX": prefix, "ORCH_BROKER_KEY_PREFIX": f"{prefix}:celery:"},
            redis_url=REAL_REDIS_URL,
        ) as running:
            yield running
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()


@pytest.fixture(scope="package")
def expiry_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_RUN_EXPIRY_S": str(EXPIRY_S), "ORCH_SWEEP_INTERVAL_S": "0.2"}
    with running_stack(tmp_path_factory.mktemp("expiry-stack"), env=env) as running:
        yield running


@pytest.fixture(scope="package")
def client(stack: Stack) -> Iterator[openai.OpenAI]:
    """The SDK as project A."""
    with stack.client(KEY_A) as sdk:
        yield sdk


@pytest.fixture(scope="package")
def client_b(stack: Stack) -> Iterator[openai.OpenAI]:
    """The SDK as project B."""
    with stack.client(KEY_B) as sdk:
        yield sdk
