"""One `orchestrator up --redis-cluster 3` stack for the cluster tests: the state on an embedded 3-master Redis
Cluster, the broker on a separate embedded server, short leases so a recovery takes seconds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
import redis

from orchestrator.store import clients
from tests.stack import KEY_A, Stack, running_stack

LEASE_S = 2


@pytest.fixture(scope="package")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_RUN_LEASE_S": str(LEASE_S), "ORCH_TASK_RESEND_AFTER_S": "3", "ORCH_SWEEP_INTERVAL_S": "0.2"}
    args = ("--redis-cluster", "3")
    with running_stack(tmp_path_factory.mktemp("cluster-stack"), env=env, args=args) as running:
        yield running


@pytest.fixture(scope="package")
def client(cluster_stack: Stack) -> Iterator[openai.OpenAI]:
    with cluster_stack.client(KEY_A) as sdk:
        yield sdk


@pytest.fixture(scope="package")
def state(cluster_stack: Stack) -> Iterator[redis.Redis]:
    """A cluster client of the stack's state."""
    client = clients.state_client(cluster_stack.redis_url, cluster=True)
    yield client
    client.close()


def master_ports(stack: Stack) -> list[int]:
    ports: list[int] = json.loads((stack.data_dir / "redis-cluster" / "ports.json").read_text())["ports"]
    return ports
