"""`RunEventBus`: one pub/sub connection per API process, fanned out to per-stream queues.

A subscriber subscribes to the run's channel first and only then reads the run's event log, dropping live
events it already replayed, so no event can fall in the gap between creating a run and listening to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BusEvent:
    id: str
    event: str
    data: str


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


class RunEventBus:
    def __init__(self, client: aioredis.Redis, channel_prefix: str) -> None:
        self._client = client
        self._prefix = channel_prefix
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[BusEvent]]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        # A placeholder subscription keeps the connection in pub/sub mode so the reader can start at once.
        await self._pubsub.subscribe(f"{self._prefix}__bus__")
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus.read_failed")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            raw = message["data"]
            raw = raw.decode() if isinstance(raw, bytes) else raw
            event_id, name, data = raw.split("\n", 2)
            for queue in list(self._queues.get(channel, ())):
                queue.put_nowait(BusEvent(event_id, name, data))

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: str) -> AsyncIterator[asyncio.Queue[BusEvent]]:
        channel = f"{self._prefix}{run_id}"
        queue: asyncio.Queue[BusEvent] = asyncio.Queue()
        async with self._lock:
            first = not self._queues[channel]
            self._queues[channel].add(queue)
            if first:
                await self._pubsub.subscribe(channel)
        try:
            yield queue
        finally:
            async with self._lock:
                self._queues[channel].discard(queue)
                if not self._queues[channel]:
                    del self._queues[channel]
                    await self._pubsub.unsubscribe(channel)


#: Quiet seconds after which a follower re-reads the log even though no live event rang: pub/sub drops messages
#: while its connection is down, the log never does, so a stream that missed the last one catches up.
RECONCILE_AFTER_QUIET_S = 3


#: What redis-py's XRANGE returns (its annotation allows a None id and fields).
Entries = list[tuple[bytes | str | None, dict[bytes | str, bytes | str] | None]] | None


def decode_entries(entries: Entries) -> list[BusEvent]:
    """Events from XRANGE entries (`{e: name, d: data}`), whether the client decodes responses or not."""
    return [
        BusEvent(
            raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id), _text(f or {}, "e"), _text(f or {}, "d")
        )
        for raw_id, f in entries or []
    ]


async def _read_log(client: aioredis.Redis, log_key: str, start: str) -> list[BusEvent]:
    """The log from `start` on; nothing while Redis is unreachable (the next read starts from the same place)."""
    try:
        return decode_entries(await client.xrange(log_key, start, "+"))
    except redis.RedisError as exc:
        log.warning("bus.log_read_failed", log_key=log_key, error=str(exc))
        return []


async def _rang(queue: asyncio.Queue[BusEvent]) -> bool:
    """Whether a live event arrived within a second; every one waiting is consumed, one log read serves them all."""
    try:
        await asyncio.wait_for(queue.get(), timeout=1.0)
    except TimeoutError:
        return False
    while not queue.empty():
        queue.get_nowait()
    return True


async def replay_then_follow(
    bus: RunEventBus, client: aioredis.Redis, log_key: str, run_id: str, start_id: str
) -> AsyncGenerator[BusEvent | None, None]:
    """The run's events from `start_id` (an XRANGE start: inclusive, or exclusive with `(`) on, then live ones;
    `None` marks a quiet second.

    Events are only ever yielded from the log, each read starting right after the last event yielded: a live event
    is a doorbell, not the event itself. So a message pub/sub lost (its connection dropped, Redis restarted) can
    delay an event but never skip it, and a read that failed is simply made again.
    """
    async with bus.subscribe(run_id) as queue:
        last_id, last = "", (0, 0)
        pending = await _read_log(client, log_key, start_id)
        quiet = 0
        while True:
            for event in pending:
                if _stream_id(event.id) > last:
                    last_id, last = event.id, _stream_id(event.id)
                    quiet = 0
                    yield event
            next_start = f"({last_id}" if last_id else start_id
            if await _rang(queue):
                pending = await _read_log(client, log_key, next_start)
                continue
            quiet += 1
            pending = await _read_log(client, log_key, next_start) if quiet % RECONCILE_AFTER_QUIET_S == 0 else []
            if not pending:
                yield None


def _text(fields: dict[bytes | str, bytes | str], name: str) -> str:
    value = fields.get(name, fields.get(name.encode(), ""))
    return value.decode() if isinstance(value, bytes) else value
