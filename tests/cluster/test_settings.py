"""`ORCH_REDIS_CLUSTER` needs a broker of its own: every process refuses to start without one, saying why."""

from __future__ import annotations

import pydantic
import pytest

from orchestrator.settings import get_settings


def test_a_cluster_without_a_broker_is_refused_with_the_reason() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        get_settings(redis_cluster=True, broker_url=None)
    assert "ORCH_BROKER_URL" in str(refused.value) and "cannot be a Redis Cluster" in str(refused.value)


def test_a_cluster_with_a_broker_is_accepted() -> None:
    settings = get_settings(redis_cluster=True, broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert settings.redis_cluster and settings.celery_broker_url.startswith("amqp://")
    assert not get_settings().redis_cluster  # one server unless asked
