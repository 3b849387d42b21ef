"""The API's producer on a real Redis broker: valid Celery task messages, sent through one client per channel."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from orchestrator.services import kombu_redis
from orchestrator.services.dispatch import EXECUTE_RUN_TASK, RUNS_QUEUE, CeleryDispatcher, make_producer
from tests.support import unique_prefix


def _sending_client(producer: Any) -> Any:
    with producer.producer_or_acquire() as sender:
        return sender.channel._sending_client


def test_run_tasks_are_celery_messages_sent_through_one_client(real_redis: str) -> None:
    prefix = f"{unique_prefix()}:"
    producer = make_producer(real_redis, {"global_keyprefix": prefix})
    assert producer.conf.broker_transport is kombu_redis.Transport
    client = redis.Redis.from_url(real_redis)
    try:
        dispatcher = CeleryDispatcher(producer)
        dispatcher.execute_run("proj", "thread_1", "run_1", "tok")
        first = _sending_client(producer)
        dispatcher.execute_run("proj", "thread_1", "run_2", "tok")
        assert first is not None and _sending_client(producer) is first
        raw = client.lrange(f"{prefix}{RUNS_QUEUE}", 0, -1)
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
    messages = [json.loads(item) for item in reversed(raw)]
    assert [m["headers"]["task"] for m in messages] == [EXECUTE_RUN_TASK] * 2
    bodies = [json.loads(base64.b64decode(m["body"])) for m in messages]
    assert [body[1]["run_id"] for body in bodies] == ["run_1", "run_2"]
    assert bodies[0][:2] == [[], {"project": "proj", "thread_id": "thread_1", "run_id": "run_1", "token": "tok"}]
    assert messages[0]["headers"]["kwargsrepr"] == repr(bodies[0][1])
