"""The token bucket (`rate_limit.lua`) on fakeredis and on a real server, with the time passed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import fakeredis
import pytest
import redis
import redis.asyncio as aioredis

from orchestrator.auth.ratelimit import TokenBucket
from orchestrator.store import Keys
from tests.support import unique_prefix


@pytest.fixture(params=[pytest.param("fake"), pytest.param("real", marks=pytest.mark.real)])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield "fake" if request.param == "fake" else request.getfixturevalue("real_redis")


def takes(url: str, rate: float, burst: int, moments: list[tuple[str, int | None]]) -> list[float]:
    """Take a token for each (key id, now in ms) in turn; the waits in seconds (0.0: taken)."""
    keys = Keys(unique_prefix())

    async def scenario() -> list[float]:
        client = (
            fakeredis.FakeAsyncRedis(decode_responses=True)
            if url == "fake"
            else aioredis.Redis.from_url(url, decode_responses=True)
        )
        bucket = TokenBucket(client, keys, rate=rate, burst=burst)
        try:
            return [await bucket.take(key_id, now_ms=now) for key_id, now in moments]
        finally:
            await client.aclose()

    try:
        return asyncio.run(scenario())
    finally:
        if url != "fake":
            sync = redis.Redis.from_url(url)
            doomed = list(sync.scan_iter(match=f"{keys.prefix}:*"))
            if doomed:
                sync.delete(*doomed)
            sync.close()


def test_a_burst_is_allowed_then_the_rate_refills_it(url: str) -> None:
    t = 1_000_000
    waits = takes(url, 2, 3, [("k", t), ("k", t), ("k", t), ("k", t), ("k", t + 250), ("k", t + 500), ("k", t + 500)])
    # Three at once (the burst), then one token every 500 ms.
    assert waits == [0.0, 0.0, 0.0, 0.5, 0.25, 0.0, 0.5]


def test_each_key_has_its_own_bucket(url: str) -> None:
    t = 1_000_000
    assert takes(url, 1, 1, [("a", t), ("a", t), ("b", t)]) == [0.0, 1.0, 0.0]


def test_an_idle_bucket_never_holds_more_than_the_burst(url: str) -> None:
    t = 1_000_000
    waits = takes(url, 10, 2, [("k", t), ("k", t + 3_600_000), ("k", t + 3_600_000), ("k", t + 3_600_000)])
    assert waits == [0.0, 0.0, 0.0, 0.1]


def test_the_servers_clock_is_used_when_no_time_is_given(url: str) -> None:
    first, second = takes(url, 0.001, 1, [("k", None), ("k", None)])  # one token per 1000 s
    assert first == 0.0 and second > 900


def test_a_zero_rate_disables_the_limit() -> None:
    async def scenario() -> list[float]:
        bucket = TokenBucket(fakeredis.FakeAsyncRedis(), Keys("x"), rate=0, burst=1)
        return [await bucket.take("k") for _ in range(5)]

    assert asyncio.run(scenario()) == [0.0] * 5
