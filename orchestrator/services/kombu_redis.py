"""kombu's Redis transport, with one client object per channel for sending.

kombu builds a new `redis.Redis` for every command a producer sends (`Channel.conn_or_acquire` without a client),
and redis-py's constructor fills a table of some 170 response callbacks each time: about half a millisecond of CPU
per task sent. A `redis.Redis` is safe to share between threads (each command
takes a connection from the pool), so the channel keeps the first one it builds. Consuming (the asynchronous
client) is left as it is; only producers use this transport (`services/dispatch.make_producer`).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _sending_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        if self._sending_client is None:
            self._sending_client = super()._create_client(asynchronous=False)  # type: ignore[misc]
        return self._sending_client


class Transport(kombu_redis.Transport):
    Channel = Channel
