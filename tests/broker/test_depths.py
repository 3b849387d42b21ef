"""Queue depths read on the broker itself: a passive declare on RabbitMQ, the lists' lengths on Redis."""

from __future__ import annotations

import uuid

import pytest
import redis
from kombu import Connection, Queue

from orchestrator.broker import depth_reader
from tests.stack import wait_until

pytestmark = pytest.mark.real


def test_rabbitmq_depth_counts_ready_messages_and_an_absent_queue_as_empty(rabbitmq_url: str) -> None:
    name = f"depth-probe-{uuid.uuid4().hex[:8]}"
    with Connection(rabbitmq_url) as connection:
        queue = Queue(name, durable=True, queue_arguments={"x-queue-type": "quorum"})
        producer = connection.Producer()
        for number in range(3):
            producer.publish({"n": number}, routing_key=name, declare=[queue], confirm_publish=True)
        read = depth_reader(rabbitmq_url)
        # A quorum queue counts a message once its replicas applied it, which may trail the publisher confirm.
        expected = {name: 3, f"{name}-absent": 0}
        wait_until(lambda: read([name, f"{name}-absent"]) == expected, "the three messages to be counted", 10)
        # The reading declared nothing: the absent queue still does not exist, and a second reading works.
        assert read([f"{name}-absent", name]) == {f"{name}-absent": 0, name: 3}
        queue(connection.default_channel).delete()


def test_redis_depth_sums_the_priority_lists_under_the_prefix(redis_broker_url: str) -> None:
    prefix = f"depth-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_broker_url)
    try:
        client.rpush(f"{prefix}runs", "a", "b")
        client.rpush(f"{prefix}runs\x06\x169", "c")
        assert depth_reader(redis_broker_url, prefix)(["runs", "tools.file_search"]) == {
            "runs": 3,
            "tools.file_search": 0,
        }
    finally:
        client.delete(f"{prefix}runs", f"{prefix}runs\x06\x169")
        client.close()
