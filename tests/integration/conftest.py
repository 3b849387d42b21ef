"""One `orchestrator up` stack with two run workers, shared by the integration tests of a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack"), env={}, args=("--run-workers", "2")) as running:
        yield running
