"""The run feed on a real server: many streams of one run share its log reads, and streams that start anywhere in
the log, or fall behind what the feed keeps, still see every event once and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from orchestrator.bus import feed as feed_module
from orchestrator.bus.feed import FeedEvent, follow
from orchestrator.bus.redis_bus import RunEventBus
from tests.support import unique_prefix

Scenario = Callable[[aioredis.Redis, RunEventBus, str, Callable[[str], Awaitable[str]]], Awaitable[None]]


async def _with_bus(real_redis: str, scenario: Scenario) -> None:
    prefix = unique_prefix()
    client = aioredis.Redis.from_url(real_redis, decode_responses=True)
    log_key, channel = f"{prefix}:log", f"{prefix}:events:run_1"
    bus = RunEventBus(client, f"{prefix}:events:")
    await bus.start()

    async def append(name: str) -> str:
        event_id = str(await client.xadd(log_key, {"e": name, "d": "{}"}))
        await client.publish(channel, f"{event_id}\n{name}\n{{}}")
        return event_id

    try:
        await scenario(client, bus, log_key, append)
    finally:
        await bus.stop()
        await client.delete(log_key)
        await client.aclose()


async def _take(follower: AsyncGenerator[list[FeedEvent] | None, None], count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        batch = await asyncio.wait_for(anext(follower), timeout=10)
        names += [entry.event.event for entry in batch or []]
    return names


def test_followers_of_one_run_share_one_log_read_per_doorbell(real_redis: str) -> None:
    reads: list[Any] = []

    async def scenario(client: aioredis.Redis, bus: RunEventBus, log_key: str, append: Any) -> None:
        await append("first")
        async with bus.feed("run_1", log_key) as feed:
            followers = [follow(feed, "-") for _ in range(8)]
            for follower in followers:
                assert await _take(follower, 1) == ["first"]
            real_xrange = client.xrange

            async def counted_xrange(*args: Any, **kwargs: Any) -> Any:
                reads.append(args)
                return await real_xrange(*args, **kwargs)

            client.xrange = counted_xrange  # type: ignore[method-assign]
            for i in range(5):
                await append(f"live.{i}")
            for follower in followers:
                assert await _take(follower, 5) == [f"live.{i}" for i in range(5)]
                await follower.aclose()
        assert bus.feeds == 0

    asyncio.run(_with_bus(real_redis, scenario))
    # One feed read per doorbell at most (fewer when doorbells come while a read is under way), not one per stream.
    assert 1 <= len(reads) <= 5


def test_streams_starting_anywhere_see_each_event_once_in_order(real_redis: str) -> None:
    async def scenario(client: aioredis.Redis, bus: RunEventBus, log_key: str, append: Any) -> None:
        ids = [await append(f"old.{i}") for i in range(4)]
        async with bus.feed("run_1", log_key) as feed:
            early = follow(feed, "-")
            assert await _take(early, 4) == [f"old.{i}" for i in range(4)]
            for i in range(3):
                await append(f"new.{i}")
            # Joins while the feed already rides the log: its own read, then the feed, with no overlap.
            late = follow(feed, f"({ids[1]}")
            from_id = follow(feed, ids[3])
            assert await _take(early, 3) == [f"new.{i}" for i in range(3)]
            assert await _take(late, 5) == ["old.2", "old.3", "new.0", "new.1", "new.2"]
            assert await _take(from_id, 4) == ["old.3", "new.0", "new.1", "new.2"]
            await append("last")
            for follower in (early, late, from_id):
                assert await _take(follower, 1) == ["last"]
                await follower.aclose()

    asyncio.run(_with_bus(real_redis, scenario))


def test_a_stream_behind_what_the_feed_keeps_reads_the_log_itself(
    real_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "KEPT_EVENTS", 4)

    async def scenario(client: aioredis.Redis, bus: RunEventBus, log_key: str, append: Any) -> None:
        await append("first")
        async with bus.feed("run_1", log_key) as feed:
            fast, slow = follow(feed, "-"), follow(feed, "-")
            assert await _take(fast, 1) == ["first"] and await _take(slow, 1) == ["first"]
            names = [f"e.{i}" for i in range(12)]
            for name in names:
                await append(name)
                assert await _take(fast, 1) == [name]  # the feed reads each, and drops the oldest it keeps
            assert feed.offset > 0
            assert await _take(slow, 12) == names
            await fast.aclose()
            await slow.aclose()

    asyncio.run(_with_bus(real_redis, scenario))


def test_a_feed_stops_even_when_its_reader_loses_the_cancellation() -> None:
    """A cancellation can be lost inside the reader (a library that turns it into an error, a timeout that takes
    it for its own): the feed still stops, so the stream whose end stops it ends too (the Node SDK, which reads a
    stream to its end, hung there)."""

    class Ended(Exception):
        pass

    class Swallowing:
        """A client whose read absorbs the cancellation and reports a Redis error instead."""

        def __init__(self) -> None:
            self.reading = asyncio.Event()
            self.end = False

        async def xrange(self, *args: Any) -> Any:
            if self.end:
                raise Ended  # not a RedisError: it ends the reader
            if self.reading.is_set():
                return []  # only the first read waits (to be cancelled)
            self.reading.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                raise redis.ConnectionError("cancelled") from None

    async def scenario() -> bool:
        client = Swallowing()
        feed = feed_module.RunFeed(client, "log")  # type: ignore[arg-type]
        feed.start()
        feed.place((0, 0))
        await asyncio.wait_for(client.reading.wait(), timeout=5)
        stopping = asyncio.create_task(feed.stop())
        done, _ = await asyncio.wait([stopping], timeout=5)
        if not done:  # the reader goes on: end it through its next read, so that the test fails and does not hang
            client.end = True
            feed.ring()
            await asyncio.wait([stopping])
        return bool(done)

    assert asyncio.run(scenario()), "the feed's reader went on reading after its cancellation was lost"


def test_the_bus_stops_even_when_its_reader_loses_the_cancellation() -> None:
    """The same for the API process's pub/sub reader, which the API's shutdown stops."""

    class Swallowing:
        def __init__(self) -> None:
            self.reading = asyncio.Event()

        async def get_message(self, **options: Any) -> Any:
            self.reading.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                raise redis.ConnectionError("cancelled") from None

        async def aclose(self) -> None:
            pass

    async def scenario() -> bool:
        pubsub = Swallowing()
        bus = RunEventBus(None, "run:")  # type: ignore[arg-type]
        bus._pubsub = pubsub  # type: ignore[assignment]
        bus._reader = asyncio.create_task(bus._read())
        await asyncio.wait_for(pubsub.reading.wait(), timeout=5)
        stopping = asyncio.create_task(bus.stop())
        done, _ = await asyncio.wait([stopping], timeout=5)
        if not done:  # end the test rather than hang it
            bus._reader.cancel()
        return bool(done)

    assert asyncio.run(scenario()), "the bus's reader went on after its cancellation was lost"
