"""One `orchestrator up` stack with two run workers, shared by the integration tests of a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Stack, running_stack

#: A model key the stack must use but never log.
MODEL_KEY = "sk-model-integration-secret"


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_MODEL_API_KEY": MODEL_KEY, "ORCH_LOG_LEVEL": "INFO"}
    # Two runs per worker at most, so a burst of runs must spread over both processes.
    with running_stack(
        tmp_path_factory.mktemp("stack"), env=env, args=("--run-workers", "2", "--run-concurrency", "2")
    ) as running:
        yield running
