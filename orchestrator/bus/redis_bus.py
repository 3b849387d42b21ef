"""`RunEventBus`: one pub/sub connection per API process; each run's channel rings the doorbell of that run's
`RunFeed`, the one reader of its event log that every stream of the run in this process shares.

A feed subscribes to the run's channel before any of its followers reads the log, so no event can fall in the gap
between creating a run and listening to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import redis
import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import PubSub

from orchestrator.bus.events import BusEvent, decode_entries
from orchestrator.bus.feed import RECONCILE_AFTER_QUIET_S, RunFeed, follow
from orchestrator.store.clients import open_async_pubsub

__all__ = ["RECONCILE_AFTER_QUIET_S", "BusEvent", "RunEventBus", "decode_entries", "replay_then_follow"]

log = structlog.get_logger(__name__)

#: Failed reads in a row after which the bus subscribes again through another connection (on a cluster, node).
REOPEN_AFTER_FAILURES = 3


class RunEventBus:
    def __init__(self, client: aioredis.Redis, channel_prefix: str) -> None:
        self._client = client
        self._prefix = channel_prefix
        self._pubsub: aioredis.client.PubSub | None = None
        self._turn = 0  # which node the pub/sub connection goes to (store/clients.py)
        self._feeds: dict[str, RunFeed] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False

    async def start(self) -> None:
        await self._open()
        self._reader = asyncio.create_task(self._read())

    async def _open(self) -> PubSub:
        """Open the pub/sub connection and subscribe every channel a feed listens to."""
        pubsub = self._pubsub = await open_async_pubsub(self._client, self._turn, ignore_subscribe_messages=True)
        # A placeholder subscription keeps the connection in pub/sub mode so the reader can start at once.
        await pubsub.subscribe(f"{self._prefix}__bus__", *self._feeds)
        return pubsub

    async def _reopen(self) -> PubSub:
        """After repeated failures: subscribe again through the next node (on one server, the same one). Feeds miss
        nothing meanwhile: they re-read the log after a quiet while (feed.py)."""
        async with self._lock:
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._turn += 1
            pubsub = await self._open()
        log.warning("bus.resubscribed", turn=self._turn, channels=len(self._feeds))
        return pubsub

    async def stop(self) -> None:
        # The flag ends the reader even if it loses the cancellation inside a redis-py call (feed.py, `stop`): the
        # API's shutdown would otherwise wait on it for ever.
        self._stopping = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        for feed in self._feeds.values():
            await feed.stop()
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    @property
    def feeds(self) -> int:
        """Runs this process follows now (one feed each, however many streams follow it)."""
        return len(self._feeds)

    async def _read(self) -> None:
        failures = 0
        pubsub = self._pubsub or await self._open()
        while not self._stopping:
            try:
                if failures >= REOPEN_AFTER_FAILURES:
                    failures = 0
                    pubsub = await self._reopen()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus.read_failed")
                failures += 1
                await asyncio.sleep(0.5)
                continue
            failures = 0
            if message is None:
                continue
            channel = message["channel"]
            feed = self._feeds.get(channel.decode() if isinstance(channel, bytes) else channel)
            if feed is not None:
                feed.ring()  # the message itself is not used: the feed reads the event from the log

    @contextlib.asynccontextmanager
    async def feed(self, run_id: str, log_key: str) -> AsyncIterator[RunFeed]:
        """The run's feed, shared with the other streams of the run in this process."""
        channel = f"{self._prefix}{run_id}"
        async with self._lock:
            feed = self._feeds.get(channel)
            if feed is None:
                feed = self._feeds[channel] = RunFeed(self._client, log_key)
                if self._pubsub is not None:
                    await self._pubsub.subscribe(channel)
                feed.start()
            feed.followers += 1
        try:
            yield feed
        finally:
            async with self._lock:
                feed.followers -= 1
                last = not feed.followers
                if last:
                    del self._feeds[channel]
                    if self._pubsub is not None:
                        with contextlib.suppress(redis.RedisError):  # a connection that is gone holds nothing
                            await self._pubsub.unsubscribe(channel)
            # Outside the lock, which every stream of the process takes to start and to end: a feed slow to stop
            # must not hold up the others (a stuck one once held every stream's end, `event: done` sent and the
            # response never finished).
            if last:
                await feed.stop()


async def replay_then_follow(
    bus: RunEventBus, log_key: str, run_id: str, start_id: str
) -> AsyncGenerator[BusEvent | None, None]:
    """The run's events from `start_id` (an XRANGE start: inclusive, or exclusive with `(`) on, then live ones;
    `None` marks a quiet second.

    Events are only ever yielded from the log, each read starting right after the last event yielded: a live event
    is a doorbell, not the event itself. So a message pub/sub lost (its connection dropped, Redis restarted) can
    delay an event but never skip it, and a read that failed is simply made again.
    """
    async with bus.feed(run_id, log_key) as feed:
        async for batch in follow(feed, start_id):
            if batch is None:
                yield None
                continue
            for entry in batch:
                yield entry.event
