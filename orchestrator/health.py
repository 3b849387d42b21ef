"""Liveness facts: worker heartbeats per pool (in the state's Redis) and Celery queue depths (on the broker).

The API's /readyz, the sweeper's gauges and `orchestrator status` all read them here, so they agree.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import redis

from orchestrator.broker import DepthReader
from orchestrator.services.dispatch import POOL_QUEUES
from orchestrator.store import Keys

HEARTBEAT_INTERVAL_S = 5.0
HEARTBEAT_MAX_AGE_S = 15.0  # three missed beats and a worker counts as gone


def beat(client: redis.Redis, keys: Keys, pool: str, worker_id: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.hset(keys.worker_heartbeat(pool), worker_id, str(time.time()))
    pipe.expire(keys.worker_heartbeat(pool), int(HEARTBEAT_MAX_AGE_S * 4))
    pipe.execute()


def leave(client: redis.Redis, keys: Keys, pool: str, worker_id: str) -> None:
    client.hdel(keys.worker_heartbeat(pool), worker_id)


def workers_alive(client: redis.Redis, keys: Keys, now: float | None = None) -> dict[str, int]:
    """Live worker processes per pool; beats older than the max age are removed on the way."""
    return {pool: len(beats) for pool, beats in worker_beats(client, keys, now).items()}


def worker_beats(client: redis.Redis, keys: Keys, now: float | None = None) -> dict[str, dict[str, float]]:
    """Each live worker's heartbeat age in seconds, per pool; beats older than the max age are removed on the way."""
    now = time.time() if now is None else now
    live: dict[str, dict[str, float]] = {}
    for pool in POOL_QUEUES:
        beats = client.hgetall(keys.worker_heartbeat(pool))
        ages = {str(worker): max(0.0, now - float(at)) for worker, at in beats.items()}
        stale = [worker for worker, age in ages.items() if age > HEARTBEAT_MAX_AGE_S]
        if stale:
            client.hdel(keys.worker_heartbeat(pool), *stale)
        live[pool] = {worker: age for worker, age in ages.items() if age <= HEARTBEAT_MAX_AGE_S}
    return live


def queue_depths(read: DepthReader) -> dict[str, int]:
    """Messages waiting per Celery queue, read by `orchestrator.broker.depth_reader` for the broker in use."""
    return read(POOL_QUEUES.values())


def missing_pools(alive: Mapping[str, int]) -> list[str]:
    return [pool for pool, count in alive.items() if count == 0]
