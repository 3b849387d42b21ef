"""The Celery broker, whichever it is: Redis (the state's own server or another one) or RabbitMQ (AMQP).

One place decides, per transport, how the queues are declared, which transport options and acknowledgement mode
apply and how the messages waiting in a queue are counted, so that the API's producer, the workers, the sweeper and
`orchestrator status` agree. A producer and a worker that declared the same queue differently would be refused by
RabbitMQ (PRECONDITION_FAILED), hence one declaration for both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import amqp.exceptions
import redis
from kombu import Connection, Exchange, Queue

AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
#: How long a depth reading waits for RabbitMQ before it gives up (the sweeper retries on its next pass).
AMQP_CONNECT_TIMEOUT_S = 5.0
_PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists
_PRIORITY_STEPS = (3, 6, 9)

#: Messages waiting per queue, for the queue names given.
DepthReader = Callable[[Iterable[str]], dict[str, int]]


def is_amqp(url: str) -> bool:
    return urlsplit(url).scheme in AMQP_SCHEMES


def queues(url: str, names: Iterable[str]) -> list[Queue]:
    """Every queue as Celery must declare it on this broker.

    On RabbitMQ each is a durable quorum queue (replicated, the production choice) behind a topic exchange of its
    own name: Celery's native delayed delivery, which carries the countdown of a task's retry on quorum queues,
    binds only topic exchanges (with a direct one the worker would hold the message until its ETA instead)."""
    if not is_amqp(url):
        return [Queue(name) for name in names]
    return [
        Queue(
            name,
            Exchange(name, type="topic", durable=True),
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        for name in names
    ]


def celery_conf(url: str, names: Iterable[str], redis_options: Mapping[str, str | int]) -> dict[str, Any]:
    """Celery settings the producer and the workers share: the queues and the transport options.

    `redis_options` (visibility timeout, global key prefix) apply to a Redis broker only; RabbitMQ separates
    deployments by virtual host, and has no visibility timeout."""
    declared = queues(url, names)
    if not is_amqp(url):
        return {"task_queues": declared, "broker_transport_options": dict(redis_options)}
    return {
        "task_queues": declared,
        # Any queue not declared above (none today) would be a quorum queue behind a topic exchange too.
        "task_default_queue_type": "quorum",
        "task_default_exchange_type": "topic",
        "task_create_missing_queue_type": "quorum",
        "task_create_missing_queue_exchange_type": "topic",
        # A send returns once RabbitMQ has taken the message (written to a quorum of replicas), so a publish lost
        # to a broker failover surfaces as an error (503 to the client) instead of a task silently missing.
        "broker_transport_options": {"confirm_publish": True},
    }


def worker_conf(url: str) -> dict[str, Any]:
    """Worker-only settings that depend on the transport: when a task's message is acknowledged, and QoS."""
    if not is_amqp(url):
        # Redis: acknowledged after the task ran. A worker lost mid-task gets its message back once the
        # visibility timeout passes, a backstop far behind the leases and the sweeper's resend (settings.py).
        return {"task_acks_late": True}
    return {
        # RabbitMQ: acknowledged when the task starts. RabbitMQ closes the channel of a consumer that holds a
        # message unacknowledged beyond `consumer_timeout` (30 min by default), which would cut off every task
        # the worker runs on that channel and redeliver them; a long run must never hold its message that long.
        # Nothing is lost by acknowledging early: a task whose worker dies is recovered by our own means, a
        # run's lapsed lease or a tool call's lapsed claim (services/recovery.py), and a task acknowledged but
        # never claimed is sent again after `task_resend_after_s`.
        "task_acks_late": False,
        # Quorum queues refuse a global prefetch limit; Celery then sets it per consumer (said explicitly).
        "worker_detect_quorum_queues": True,
        # Remote control would declare a transient classic queue per worker (`<host>.celery.pidbox`), which
        # quorum-only policies (and RabbitMQ 4's deprecation of transient queues) refuse; nothing here uses it.
        "worker_enable_remote_control": False,
    }


def depth_reader(url: str, redis_key_prefix: str = "") -> DepthReader:
    """Reads how many messages wait (not yet delivered to a worker) in each queue of this broker."""
    if is_amqp(url):
        return _AmqpDepths(url)
    return _RedisDepths(redis.Redis.from_url(url, decode_responses=True), redis_key_prefix)


class _RedisDepths:
    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix

    def __call__(self, names: Iterable[str]) -> dict[str, int]:
        """A queue is a list (one per priority step): its depth is the sum of their lengths."""
        names = list(names)
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.llen(f"{self.key_prefix}{name}")
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{self.key_prefix}{name}{_PRIORITY_SEPARATOR}{step}")
        counts = pipe.execute()
        per_queue = len(_PRIORITY_STEPS) + 1
        return {name: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


class _AmqpDepths:
    """A passive queue_declare per queue: RabbitMQ answers with the count of ready messages and creates nothing.
    One connection is kept between readings; a failed reading drops it, and the next one connects anew."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Connection | None = None

    def __call__(self, names: Iterable[str]) -> dict[str, int]:
        if self.connection is None:
            self.connection = Connection(self.url, connect_timeout=AMQP_CONNECT_TIMEOUT_S)
        try:
            return {name: self._depth(self.connection, name) for name in names}
        except Exception:
            self.close()
            raise

    def _depth(self, connection: Connection, name: str) -> int:
        channel: Any = connection.channel()  # py-amqp's Channel; kombu types it as the bare StdChannel
        try:
            _, message_count, _ = channel.queue_declare(queue=name, passive=True)
        except amqp.exceptions.NotFound:
            return 0  # no worker or producer declared it yet: nothing waits there (RabbitMQ closed the channel)
        with contextlib.suppress(Exception):
            channel.close()
        return int(message_count)

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.release()
            self.connection = None
