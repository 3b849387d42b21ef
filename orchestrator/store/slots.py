"""Multi-key reads and writes that hold on one Redis and on a Redis Cluster alike.

A transaction (MULTI) or a multi-key command must name keys of one hash slot on a cluster. Writes whose keys share
a slot (a thread's, a vector store's) stay one transaction; writes that span slots (a document and its project's
index) go as one ordered, non-transactional pipeline, and their readers tolerate the moment between: a listing
skips an id whose document is gone, and a document not yet listed is simply not found by the listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis
from redis.crc import key_slot


def one_slot(keys: Iterable[str]) -> bool:
    """Whether every key hashes to one slot (then a transaction holds everywhere)."""
    return len({key_slot(key.encode()) for key in keys}) <= 1


def pipeline(client: redis.Redis, keys: Iterable[str]) -> redis.client.Pipeline:
    """A transaction when `keys` share a slot, else an ordered non-transactional pipeline."""
    return client.pipeline(transaction=one_slot(keys))


def mget(client: redis.Redis, keys: Sequence[str]) -> list[str | None]:
    """GET of many keys in one round trip per node: MGET on one server, one MGET per slot on a cluster."""
    if not keys:
        return []
    split = getattr(client, "mget_nonatomic", None)  # only a cluster client has it
    values = split(keys) if split is not None and not one_slot(keys) else client.mget(keys)
    return list(values)


def delete_then_unindex(client: redis.Redis, keys: Sequence[str], index: Sequence[tuple[str, str]]) -> int:
    """DEL `keys` (of one slot), then ZREM each (index key, member); returns how many keys were deleted.

    One transaction when everything shares the slot; else the DEL (one command: its keys share a slot), then the
    index entries in one pipeline, so a crash between leaves index entries whose documents are gone."""
    if one_slot([*keys, *(key for key, _ in index)]):
        pipe = client.pipeline(transaction=True)
        pipe.delete(*keys)
        for key, member in index:
            pipe.zrem(key, member)
        return int(pipe.execute()[0])
    deleted = int(client.delete(*keys))  # a cluster pipeline cannot carry a DEL of several keys
    pipe = client.pipeline(transaction=False)
    for key, member in index:
        pipe.zrem(key, member)
    pipe.execute()
    return deleted
