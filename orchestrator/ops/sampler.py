"""The API process's sampler: every 2 s, the state in Redis (active runs by status, queue depths, worker
heartbeats) and the metrics of every scrape target, kept for the window in memory; the overview is rebuilt after
each sample, so any number of viewers costs one sampling loop.

The API starts it with the process (`start`): while nobody watches it samples every `ORCH_OPS_IDLE_SAMPLE_S`
(10 s: six small scrapes, a few milliseconds of CPU), so a person who opens the view sees the last minutes, not an
empty chart; the first overview request wakes it and it samples every 2 s while watched. With that setting at 0 it
starts on the first overview request instead and stops after `IDLE_STOP_S` without one (its samples dropped): counts
then begin when someone first looks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import structlog

from orchestrator import health, metrics
from orchestrator.broker import DepthReader, depth_reader
from orchestrator.ops import scrape, window
from orchestrator.settings import Settings
from orchestrator.store import RedisStore
from orchestrator.sweeper import active_runs_by_status

log = structlog.get_logger(__name__)

INTERVAL_S = 2.0
IDLE_STOP_S = 600.0
#: How long after the last overview request the view counts as watched (its poll runs every 2 s).
WATCHED_S = 30.0
#: How long the request that starts the sampler waits for its first sample.
FIRST_SAMPLE_WAIT_S = 5.0


class NoSample(Exception):
    """The sampler has nothing to show yet (its first sample failed or is late)."""


class Sampler:
    def __init__(
        self,
        settings: Settings,
        store: RedisStore,
        *,
        interval_s: float = INTERVAL_S,
        depths: DepthReader | None = None,
    ) -> None:
        self.idle_interval_s = settings.ops_idle_sample_s
        self.store = store
        self.window_s = settings.ops_window_s
        self.interval_s = interval_s
        self.targets = scrape.Targets(settings.metrics_targets)
        self._broker = (settings.celery_broker_url, settings.broker_key_prefix)
        self._depths = depths
        self.window = window.Window(self.window_s)
        self._previous: dict[str, window.Counts] = {}
        self._latest: dict[str, Any] | None = None
        self._sampled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._asked = time.monotonic()
        self._always = False
        self._wake = asyncio.Event()
        self._stopping = False

    def start(self) -> None:
        """Sample from now on, slowly until someone watches (a no-op when idle sampling is off)."""
        if self.idle_interval_s > 0 and self._task is None:
            self._always = True
            self._asked = time.monotonic() - WATCHED_S
            self._task = asyncio.create_task(self._run(), name="ops-sampler")

    async def overview(self) -> dict[str, Any]:
        unwatched = time.monotonic() - self._asked >= WATCHED_S
        self._asked = time.monotonic()
        if unwatched and self._task is not None and not self._task.done():
            # A viewer arrived at an idle sampler: answer with a sample taken now, not one up to an interval old.
            self._sampled.clear()
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sampled.wait(), FIRST_SAMPLE_WAIT_S)
        if self._task is None or self._task.done():
            self._sampled.clear()
            self._task = asyncio.create_task(self._run(), name="ops-sampler")
        if self._latest is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sampled.wait(), FIRST_SAMPLE_WAIT_S)
        if self._latest is None:
            raise NoSample
        return self._latest

    async def stop(self) -> None:
        # The flag ends the loop even if it loses the cancellation in a Redis or HTTP call (bus/feed.py, `stop`).
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        close = getattr(self._depths, "close", None)  # the AMQP reader holds a connection between readings
        if close is not None:
            await asyncio.to_thread(close)

    async def _run(self) -> None:
        try:
            # Targets are the deployment's own processes: never through a proxy the environment may name.
            async with httpx.AsyncClient(trust_env=False) as client:
                while not self._stopping and (self._always or time.monotonic() - self._asked < IDLE_STOP_S):
                    started = time.monotonic()
                    self._wake.clear()
                    try:
                        await self.sample_once(client)
                    except Exception as exc:  # Redis away: keep the last picture, try again next time
                        log.warning("ops.sample_failed", error=repr(exc))
                    watched = time.monotonic() - self._asked < WATCHED_S
                    interval = self.interval_s if watched or not self._always else self.idle_interval_s
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), max(0.0, interval - (time.monotonic() - started)))
        finally:
            self.window = window.Window(self.window_s)
            self._previous.clear()
            self._latest = None

    async def sample_once(self, client: httpx.AsyncClient) -> None:
        at = time.time()
        targets = await asyncio.to_thread(self.targets.current)
        status = asyncio.create_task(asyncio.to_thread(self._status, at))
        counts: dict[str, window.Counts | BaseException]
        try:
            if targets:
                scraped = await asyncio.gather(*(scrape.fetch(client, t) for t in targets), return_exceptions=True)
                counts = dict(zip(targets, scraped, strict=True))
            else:
                counts = {"self": await asyncio.to_thread(scrape.from_registry, metrics.registry())}
        finally:
            active, queues, workers = await status
        failed = [target for target, got in counts.items() if isinstance(got, BaseException)]
        increases = []
        for target, got in counts.items():
            if isinstance(got, BaseException):
                continue  # its previous scrape stays: the next one that answers covers the gap
            increases.append(window.increase(self._previous.get(target), got))
            self._previous[target] = got
        for gone in set(self._previous) - set(counts):
            del self._previous[gone]
        previous_at = self.window.samples[-1].at if self.window.samples else None
        sample = window.Sample(
            at=at,
            interval_s=None if previous_at is None else at - previous_at,
            increase=window.summed(increases),
            active=active,
            queues=queues,
            workers=workers,
            targets=len(targets) or 1,
            failed=failed,
        )
        self.window.add(sample)
        self._latest = self.window.overview()
        self._sampled.set()

    def _status(self, at: float) -> tuple[dict[str, int], dict[str, int], dict[str, list[dict[str, Any]]]]:
        if self._depths is None:
            self._depths = depth_reader(*self._broker)
        beats = health.worker_beats(self.store.client, self.store.keys, now=at)
        workers = {
            pool: [{"name": name, "beat_age_s": round(age, 1)} for name, age in sorted(ages.items())]
            for pool, ages in beats.items()
        }
        return active_runs_by_status(self.store), health.queue_depths(self._depths), workers
