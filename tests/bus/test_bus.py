"""The follower of a run's events on a real server: replay then live with no gap or duplicate, and recovery of
an event that pub/sub never delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis

from orchestrator.bus.redis_bus import BusEvent, RunEventBus, replay_then_follow
from tests.support import unique_prefix


async def _follow(real_redis: str, before: int, live: int, unpublished: int) -> list[BusEvent]:
    prefix = unique_prefix()
    client = aioredis.Redis.from_url(real_redis, decode_responses=True)
    log_key, channel = f"{prefix}:log", f"{prefix}:events:run_1"
    bus = RunEventBus(client, f"{prefix}:events:")
    await bus.start()

    async def append(name: str, publish: bool) -> None:
        event_id = str(await client.xadd(log_key, {"e": name, "d": "{}"}))
        if publish:
            await client.publish(channel, f"{event_id}\n{name}\n{{}}")

    try:
        for i in range(before):
            await append(f"replayed.{i}", publish=True)
        start = "-"
        seen: list[BusEvent] = []
        follower = replay_then_follow(bus, log_key, "run_1", start)
        while len(seen) < before:
            event = await asyncio.wait_for(anext(follower), timeout=5)
            if event is not None:
                seen.append(event)
        for i in range(live):
            await append(f"live.{i}", publish=True)
        for i in range(unpublished):
            await append(f"lost.{i}", publish=False)
        while len(seen) < before + live + unpublished:
            event = await asyncio.wait_for(anext(follower), timeout=10)
            if event is not None:
                seen.append(event)
        await follower.aclose()
        return seen
    finally:
        await bus.stop()
        await client.delete(log_key)
        await client.aclose()


def test_replay_then_live_without_gap_or_duplicate(real_redis: str) -> None:
    seen = asyncio.run(_follow(real_redis, before=3, live=4, unpublished=0))
    assert [e.event for e in seen] == [f"replayed.{i}" for i in range(3)] + [f"live.{i}" for i in range(4)]
    assert len({e.id for e in seen}) == 7


def test_an_event_pubsub_lost_is_read_back_from_the_log(real_redis: str) -> None:
    seen = asyncio.run(_follow(real_redis, before=1, live=0, unpublished=2))
    assert [e.event for e in seen] == ["replayed.0", "lost.0", "lost.1"]


async def _follow_with_gap(real_redis: str, fail_reads: int) -> list[BusEvent]:
    """An event pub/sub never delivered followed by one it did, while the follower's next `fail_reads` log reads
    fail as if Redis were away."""
    prefix = unique_prefix()
    client = aioredis.Redis.from_url(real_redis, decode_responses=True)
    log_key, channel = f"{prefix}:log", f"{prefix}:events:run_1"
    bus = RunEventBus(client, f"{prefix}:events:")
    await bus.start()
    real_xrange = client.xrange
    failures = 0

    async def flaky_xrange(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures < fail_reads:
            failures += 1
            raise redis.ConnectionError("Redis is away")
        return await real_xrange(*args, **kwargs)

    try:
        first = str(await client.xadd(log_key, {"e": "first", "d": "{}"}))
        follower = replay_then_follow(bus, log_key, "run_1", "-")
        replayed = await asyncio.wait_for(anext(follower), timeout=5)
        assert replayed is not None and replayed.id == first
        seen = [replayed]
        client.xrange = flaky_xrange  # type: ignore[method-assign]
        await client.xadd(log_key, {"e": "lost", "d": "{}"})
        live = str(await client.xadd(log_key, {"e": "live", "d": "{}"}))
        await client.publish(channel, f"{live}\nlive\n{{}}")
        while len(seen) < 3:
            event = await asyncio.wait_for(anext(follower), timeout=15)
            if event is not None:
                seen.append(event)
        await follower.aclose()
        assert failures == fail_reads
        return seen
    finally:
        client.xrange = real_xrange  # type: ignore[method-assign]
        await bus.stop()
        await client.delete(log_key)
        await client.aclose()


def test_a_live_event_never_skips_one_pubsub_lost_before_it(real_redis: str) -> None:
    seen = asyncio.run(_follow_with_gap(real_redis, fail_reads=0))
    assert [e.event for e in seen] == ["first", "lost", "live"]


def test_failed_log_reads_are_made_again_without_a_gap(real_redis: str) -> None:
    seen = asyncio.run(_follow_with_gap(real_redis, fail_reads=2))
    assert [e.event for e in seen] == ["first", "lost", "live"]
