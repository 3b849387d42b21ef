"""Whole stacks whose Celery broker is not the state's Redis: the machine's RabbitMQ (a virtual host per session,
quorum queues). Each test of `broker_stack` runs once per broker kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.broker import rabbitmq
from tests.stack import Stack, running_stack


@dataclass(frozen=True)
class BrokerStack:
    """A running stack and the broker its Celery apps use."""

    stack: Stack
    kind: str  # "rabbitmq" or "redis"
    broker_url: str
    vhost: str = ""


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    with rabbitmq.session_vhost() as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_stack(tmp_path_factory: pytest.TempPathFactory, rabbitmq_url: str) -> Iterator[BrokerStack]:
    with running_stack(tmp_path_factory.mktemp("rabbitmq-stack"), env={"ORCH_BROKER_URL": rabbitmq_url}) as stack:
        yield BrokerStack(stack, "rabbitmq", rabbitmq_url, vhost=rabbitmq_url.rsplit("/", 1)[1])


@pytest.fixture(params=["rabbitmq"])
def broker_stack(request: pytest.FixtureRequest) -> BrokerStack:
    """Each test once per broker kind."""
    stack: BrokerStack = request.getfixturevalue(f"{request.param}_stack")
    return stack
