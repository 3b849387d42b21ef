"""A task sent with a countdown (what a retry's backoff does) waits in RabbitMQ, not in a worker's memory.

On quorum queues Celery delays such a message through its `celery_delayed_*` queues, which route only to topic
exchanges; our queues are declared behind one (orchestrator/broker.py), so the message waits there, then arrives.
"""

from __future__ import annotations

import uuid

import pytest
from celery import Celery
from kombu import Connection
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from orchestrator import broker
from tests.stack import wait_until

pytestmark = pytest.mark.real

DELAY_QUEUES = [f"celery_delayed_{level}" for level in range(28)]


def test_a_countdown_waits_in_the_broker_then_reaches_its_queue(rabbitmq_url: str) -> None:
    name = f"delay-probe-{uuid.uuid4().hex[:8]}"
    app = Celery("delay-probe", broker=rabbitmq_url)
    app.conf.update(**broker.celery_conf(rabbitmq_url, [name], {}))
    (queue,) = app.conf.task_queues
    with Connection(rabbitmq_url) as connection:
        # What a worker's DelayedDelivery bootstep does when it starts on quorum queues.
        declare_native_delayed_delivery_exchanges_and_queues(connection, "quorum")
        queue(connection.default_channel).declare()
        bind_queue_to_native_delayed_delivery_exchange(connection, queue)
    read = broker.depth_reader(rabbitmq_url)
    try:
        waiting_before = sum(read(DELAY_QUEUES).values())
        app.send_task("probe.later", queue=name, countdown=3600)
        wait_until(lambda: sum(read(DELAY_QUEUES).values()) == waiting_before + 1, "the delayed message", 10)
        assert read([name]) == {name: 0}

        app.send_task("probe.soon", queue=name, countdown=1)
        wait_until(lambda: read([name]) == {name: 1}, "the message sent with a 1 s countdown", 30)
    finally:
        with Connection(rabbitmq_url) as connection:
            queue(connection.default_channel).delete()
        app.close()
