"""The chaos benchmark, shortened for CI: workers SIGKILLed at random and Redis restarted while runs are in flight;
every run ends, nothing is duplicated or lost, and every run's followed stream equals its event log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.chaos import CHAOS_ENV, chaos
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    args = ("--run-workers", "2", "--tool-workers", "2")
    with running_stack(tmp_path_factory.mktemp("chaos"), env=CHAOS_ENV, args=args) as running:
        yield running


def test_no_run_is_stuck_duplicated_or_lost_under_kills_and_a_redis_restart(chaos_stack: Stack) -> None:
    report = chaos(chaos_stack, runs=18, clients=6, seed=11, kill_every_s=(1.0, 2.0), max_kills=6, deadline_s=150)
    print(report.line())
    assert report.kills >= 3 and report.restarts == 1, report.line()
    assert report.clean, f"{report.line()}\n{report}"
    assert sum(report.outcomes.values()) == 18
