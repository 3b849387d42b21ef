"""`RunFeed`: one reader of a run's event log per API process, shared by every stream of that run, and `follow()`,
a stream's way through it.

The log is the only source of events; a pub/sub message is a doorbell. Before, every stream answered each doorbell
with an XRANGE of its own, so 64 followers of one run made 64 reads per event. Now the run's feed makes one read
per doorbell (or per burst of them), keeps the events it read with their SSE frame already encoded, and wakes its
followers, which take what they have not sent yet.

A follower first reads the log itself, from where it starts (a replay can be long and private to it), then hops on
the feed at the position it reached. One that falls behind what the feed still keeps (`KEPT_EVENTS`) reads the log
itself again. Positions are compared as stream ids, so nothing is yielded twice or out of order, and whatever the
feed fails to read (Redis away) it reads at the next doorbell, or after `RECONCILE_AFTER_QUIET_S` quiet seconds in
case pub/sub dropped the doorbell.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis
import structlog

from orchestrator.bus.events import BusEvent, decode_entries, frame

log = structlog.get_logger(__name__)

#: Quiet seconds after which a feed re-reads the log even though no doorbell rang: pub/sub drops messages while its
#: connection is down, the log never does, so a stream that missed the last one catches up.
RECONCILE_AFTER_QUIET_S = 3
#: Events a feed keeps for its followers (between half this and this); one further behind reads the log itself.
#: Kept small: a process may follow a thousand runs at once, and a stream that lags is rare and reads cheaply.
KEPT_EVENTS = 256

StreamId = tuple[int, int]


def stream_id(value: str) -> StreamId:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def before(start: str) -> StreamId:
    """The position just before an XRANGE start: `-` (the log's start), `(id` (after id) or `id` (from id)."""
    if start == "-":
        return (0, 0)
    if start.startswith("("):
        return stream_id(start[1:])
    ms, seq = stream_id(start)
    return (ms, seq - 1) if seq else (ms - 1, 2**64 - 1)


@dataclass(frozen=True)
class FeedEvent:
    """An event of the log, with its position and its SSE frame, encoded once for every follower."""

    position: StreamId
    event: BusEvent
    frame: bytes

    @classmethod
    def of(cls, event: BusEvent) -> FeedEvent:
        return cls(stream_id(event.id), event, frame(event.event, event.data, event.id))


async def read_log(client: aioredis.Redis, log_key: str, after: StreamId) -> list[FeedEvent] | None:
    """The log after `after`; None while Redis is unreachable (the next read starts from the same place)."""
    try:
        entries = await client.xrange(log_key, f"({after[0]}-{after[1]}", "+")
    except redis.RedisError as exc:
        log.warning("bus.log_read_failed", log_key=log_key, error=str(exc))
        return None
    return [FeedEvent.of(event) for event in decode_entries(entries)]


@dataclass(eq=False)
class RunFeed:
    """The events of one run's log from the position its first follower reached, read once per doorbell."""

    client: aioredis.Redis
    log_key: str
    #: The position before the first event kept; None until a follower has placed the feed.
    floor: StreamId | None = None
    #: Events kept, in log order, right after `floor`; `offset` is the index (over the feed's life) of the first.
    kept: list[FeedEvent] = field(default_factory=list)
    offset: int = 0
    followers: int = 0
    _rang: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None
    _stopping: bool = False

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever())

    async def stop(self) -> None:
        """End the reader. Its own flag does, not only the cancellation, which can be lost: redis-py sends each
        command under `asyncio.wait_for`, and Python 3.11's returns the result and drops the cancellation when
        the send finishes in the same loop turn (CPython gh-86296, fixed in 3.12). The reader then went on
        reading the log every few seconds for ever, and this await, and the stream whose end called it, never
        returned: `event: done` was sent but the response never finished."""
        self._stopping = True
        self._rang.set()
        if self._reader is not None:
            self._reader.cancel()
            # Waited on, not awaited: awaiting a task passes our own cancellation on to it, and suppressing its
            # CancelledError would swallow ours.
            await asyncio.wait([self._reader])

    def ring(self) -> None:
        """A doorbell: the run committed events (maybe several since the last ring)."""
        self._rang.set()

    @property
    def last(self) -> StreamId | None:
        if self.kept:
            return self.kept[-1].position
        return self.floor

    def place(self, position: StreamId) -> None:
        """Start the feed after `position`, the end of a log read a follower just made (the first to get there)."""
        if self.floor is None:
            self.floor = position
            self._rang.set()  # a doorbell that rang before the feed had a place is answered now

    def index_after(self, position: StreamId) -> int | None:
        """The feed index of the first event after `position`; None if the feed cannot tell (not placed yet, or
        events after `position` were read before the feed was placed or are no longer kept)."""
        if self.floor is None or position < self.floor:
            return None
        at = bisect.bisect_right([event.position for event in self.kept], position) if self.kept else 0
        return self.offset + at

    def since(self, index: int) -> list[FeedEvent] | None:
        """The events from feed index `index` on; None if some of them are no longer kept."""
        if index < self.offset:
            return None
        return self.kept[index - self.offset :]

    async def changed(self, timeout_s: float) -> bool:
        """Whether the feed got new events within `timeout_s`."""
        waiting = self._changed
        try:
            async with asyncio.timeout(timeout_s):
                await waiting.wait()
        except TimeoutError:
            return False
        return True

    async def _read_forever(self) -> None:
        quiet = 0
        while not self._stopping:
            try:
                async with asyncio.timeout(1.0):
                    await self._rang.wait()
                rang = True
            except TimeoutError:
                rang = False
            # Cleared before the read: a doorbell during it makes another. One before `place` is rung again by it.
            self._rang.clear()
            quiet = 0 if rang else quiet + 1
            last = self.last
            if last is None or not (rang or quiet % RECONCILE_AFTER_QUIET_S == 0):
                continue
            events = await read_log(self.client, self.log_key, last)
            if events is not None:
                self._keep([event for event in events if event.position > last])

    def _keep(self, events: list[FeedEvent]) -> None:
        if not events:
            return
        self.kept.extend(events)
        if len(self.kept) > KEPT_EVENTS:
            dropped = len(self.kept) - KEPT_EVENTS // 2
            self.floor = self.kept[dropped - 1].position
            del self.kept[:dropped]
            self.offset += dropped
        # Wake every follower waiting now; the next ones wait on a fresh event.
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()


async def follow(feed: RunFeed, start: str) -> AsyncGenerator[list[FeedEvent] | None, None]:
    """The run's events from the XRANGE `start` on, in batches of all that is new; `None` marks a quiet second."""
    seen = before(start)
    index: int | None = None
    while True:
        if index is None:
            # Not riding the feed: read the log ourselves, from where we are.
            events = await read_log(feed.client, feed.log_key, seen)
            if events is not None:
                feed.place(events[-1].position if events else seen)
        else:
            batch = feed.since(index)
            if batch is None:  # fell behind what the feed keeps
                index = None
                continue
            index += len(batch)
            # Our own read may have gone past where the feed was when we hopped on.
            events = batch if not batch or batch[0].position > seen else [e for e in batch if e.position > seen]
        if events:
            seen = events[-1].position
            yield events
        if index is None:
            index = feed.index_after(seen)
            if index is not None:
                continue  # what the feed read meanwhile is taken at once
        if not events and not await feed.changed(1.0):
            yield None
