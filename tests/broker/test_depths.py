"""Queue depths read on the broker itself: a passive declare on RabbitMQ, the lists' lengths on Redis."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Queue

from orchestrator.broker import depth_reader

pytestmark = pytest.mark.real


def test_rabbitmq_depth_counts_ready_messages_and_an_absent_queue_as_empty(rabbitmq_url: str) -> None:
    name = f"depth-probe-{uuid.uuid4().hex[:8]}"
    with Connection(rabbitmq_url) as connection:
        queue = Queue(name, durable=True, queue_arguments={"x-queue-type": "quorum"})
        producer = connection.Producer()
        for number in range(3):
            producer.publish({"n": number}, routing_key=name, declare=[queue], confirm_publish=True)
        read = depth_reader(rabbitmq_url)
        assert read([name, f"{name}-absent"]) == {name: 3, f"{name}-absent": 0}
        # The reading declared nothing: the absent queue still does not exist, and a second reading works.
        assert read([f"{name}-absent", name]) == {f"{name}-absent": 0, name: 3}
        queue(connection.default_channel).delete()
