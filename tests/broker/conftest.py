"""Whole stacks whose Celery broker is not the state's Redis: the machine's RabbitMQ (a virtual host per session,
quorum queues) and a second Redis-protocol server (embedded). Each test of `broker_stack` runs on both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from orchestrator import embedded
from tests.broker import rabbitmq
from tests.stack import Stack, running_stack


@dataclass(frozen=True)
class BrokerStack:
    """A running stack and the broker its Celery apps use."""

    stack: Stack
    kind: str  # "rabbitmq" or "redis"
    broker_url: str
    vhost: str = ""


@pytest.fixture(scope="package")
def rabbitmq_url() -> Iterator[str]:
    with rabbitmq.session_vhost() as url:
        yield url


@pytest.fixture(scope="package")
def rabbitmq_stack(tmp_path_factory: pytest.TempPathFactory, rabbitmq_url: str) -> Iterator[BrokerStack]:
    with running_stack(tmp_path_factory.mktemp("rabbitmq-stack"), env={"ORCH_BROKER_URL": rabbitmq_url}) as stack:
        yield BrokerStack(stack, "rabbitmq", rabbitmq_url, vhost=rabbitmq_url.rsplit("/", 1)[1])


@pytest.fixture(scope="package")
def redis_broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis-protocol server of its own (not the state's), serving as the broker only."""
    server = embedded.start(tmp_path_factory.mktemp("redis-broker"), persist=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="package")
def redis_stack(tmp_path_factory: pytest.TempPathFactory, redis_broker_url: str) -> Iterator[BrokerStack]:
    """The state on the stack's own embedded server, Celery on the other one."""
    with running_stack(tmp_path_factory.mktemp("redis-stack"), env={"ORCH_BROKER_URL": redis_broker_url}) as stack:
        yield BrokerStack(stack, "redis", redis_broker_url)


@pytest.fixture(params=["rabbitmq", "redis"])
def broker_stack(request: pytest.FixtureRequest) -> BrokerStack:
    """Each test once per broker kind."""
    stack: BrokerStack = request.getfixturevalue(f"{request.param}_stack")
    return stack
