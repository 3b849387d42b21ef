"""What Celery is told per broker: quorum queues, publisher confirms and early acknowledgement on RabbitMQ only."""

from __future__ import annotations

from orchestrator import broker
from orchestrator.services.dispatch import POOL_QUEUES, make_producer

AMQP = "amqp://guest:guest@127.0.0.1:5672/orch"
REDIS = "redis://127.0.0.1:6379/1"
REDIS_OPTIONS: dict[str, str | int] = {"visibility_timeout": 600, "global_keyprefix": "p:"}


def test_rabbitmq_queues_are_durable_quorum_queues_behind_topic_exchanges() -> None:
    conf = broker.celery_conf(AMQP, POOL_QUEUES.values(), REDIS_OPTIONS)
    queues = conf["task_queues"]
    assert [q.name for q in queues] == list(POOL_QUEUES.values())
    for queue in queues:
        assert queue.durable and queue.queue_arguments == {"x-queue-type": "quorum"}
        # Native delayed delivery (a retry's countdown) binds topic exchanges only.
        assert (queue.exchange.name, queue.exchange.type, queue.routing_key) == (queue.name, "topic", queue.name)
    # Publisher confirms; the Redis-only options (visibility timeout, key prefix) are not passed on.
    assert conf["broker_transport_options"] == {"confirm_publish": True}
    assert conf["task_create_missing_queue_type"] == "quorum"


def test_redis_keeps_plain_queues_and_its_own_options() -> None:
    conf = broker.celery_conf(REDIS, POOL_QUEUES.values(), REDIS_OPTIONS)
    assert all(q.queue_arguments is None for q in conf["task_queues"])
    assert conf["broker_transport_options"] == REDIS_OPTIONS


def test_acknowledgement_mode_per_broker() -> None:
    amqp = broker.worker_conf(AMQP)
    assert amqp["task_acks_late"] is False and amqp["worker_enable_remote_control"] is False
    assert broker.worker_conf(REDIS) == {"task_acks_late": True}


def test_producer_and_workers_declare_the_same_queues() -> None:
    from orchestrator.settings import get_settings
    from workers.celery_app import make_celery

    settings = get_settings(broker_url=AMQP, model_base_url="http://127.0.0.1:1/v1")
    worker_queues = {q.name: q for q in make_celery(settings).conf.task_queues}
    producer_queues = {q.name: q for q in make_producer(AMQP, {}).conf.task_queues}
    assert worker_queues.keys() == producer_queues.keys() == set(POOL_QUEUES.values())
    for name, queue in worker_queues.items():
        assert queue.as_dict(recurse=True) == producer_queues[name].as_dict(recurse=True)


def test_amqp_schemes() -> None:
    assert broker.is_amqp(AMQP) and broker.is_amqp("amqps://h/v") and broker.is_amqp("pyamqp://h//")
    assert not broker.is_amqp(REDIS) and not broker.is_amqp("rediss://h:6380/0")
