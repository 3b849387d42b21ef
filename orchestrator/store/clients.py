"""The state's Redis clients: one server's, or a Redis Cluster's (`ORCH_REDIS_CLUSTER`), sync and asyncio.

Every process builds its state clients here, so the choice is made in one place. The cluster clients are typed
as the single-server ones: they answer the same commands, and everything the code sends keeps to what a cluster
accepts (one slot per script, transaction and multi-key command; see store/slots.py).
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from orchestrator.settings import Settings

#: Connections one process may open to the state (per node on a cluster). A run worker runs hundreds of runs at
#: once, one per thread of its pool, and an API process reads the logs of hundreds of runs at once; redis-py 8 caps a
#: pool at 100 and fails the 101st borrower (runs crashed once 200 were active; the API's log reads were refused and
#: retried). Connections are opened as needed, so the cap costs nothing below it.
MAX_STATE_CONNECTIONS = 1024


def state_client(url: str, *, cluster: bool, **options: Any) -> redis.Redis:
    """The synchronous client of the state at `url` (a seed node when `cluster`), responses decoded."""
    options.setdefault("decode_responses", True)
    options.setdefault("max_connections", MAX_STATE_CONNECTIONS)
    if cluster:
        return cast(redis.Redis, RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(url, **options)


def async_state_client(url: str, *, cluster: bool, **options: Any) -> aioredis.Redis:
    """The asyncio client of the state at `url` (a seed node when `cluster`), responses decoded."""
    options.setdefault("decode_responses", True)
    options.setdefault("max_connections", MAX_STATE_CONNECTIONS)
    if cluster:
        options.pop("health_check_interval", None)  # the asyncio cluster client does not take it
        return cast(aioredis.Redis, AsyncRedisCluster.from_url(url, **options))
    return aioredis.Redis.from_url(url, **options)


def for_settings(settings: Settings, **options: Any) -> redis.Redis:
    """The synchronous state client `settings` describe."""
    return state_client(settings.redis_url, cluster=settings.redis_cluster, **options)


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster | AsyncRedisCluster)


def open_pubsub(client: redis.Redis, turn: int = 0) -> redis.client.PubSub:
    """A pub/sub connection. On a cluster PUBLISH reaches every node, so it goes to any node: the `turn`-th, and
    the next one when the caller opens again after a failure (a node that went away is passed over)."""
    if isinstance(client, RedisCluster):
        nodes = client.get_nodes()
        return cast(redis.client.PubSub, client.pubsub(node=nodes[turn % len(nodes)]))
    pubsub: redis.client.PubSub = client.pubsub()  # type: ignore[no-untyped-call]
    return pubsub


async def open_async_pubsub(client: aioredis.Redis, turn: int = 0, **options: Any) -> aioredis.client.PubSub:
    """`open_pubsub` for the asyncio client."""
    if isinstance(client, AsyncRedisCluster):
        await client.initialize()
        nodes = client.get_nodes()
        return cast(aioredis.client.PubSub, client.pubsub(node=nodes[turn % len(nodes)], **options))
    return client.pubsub(**options)
