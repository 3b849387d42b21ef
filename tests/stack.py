"""Real `orchestrator up` stacks as subprocesses, for tests that need every process (Celery workers included)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from bench import stack as stacks
from bench.stack import KEY_A as KEY_A
from bench.stack import PROJECT_A as PROJECT_A
from bench.stack import REPO_ROOT as REPO_ROOT
from bench.stack import Stack as Stack
from bench.stack import StackError
from bench.stack import free_port as free_port

KEY_B, PROJECT_B = "sk-e2e-key-b", "proj_e2e_b"
T = TypeVar("T")


def wait_until(condition: Callable[[], T | None], what: str, timeout_s: float = 30.0, every_s: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


@contextlib.contextmanager
def running_stack(
    data_dir: Path, *, env: dict[str, str], redis_url: str | None = None, args: tuple[str, ...] = ()
) -> Iterator[Stack]:
    """`bench.stack.running_stack` with both test projects; a stack that fails to start or stop fails the test."""
    keys = f"{KEY_A}={PROJECT_A},{KEY_B}={PROJECT_B}"
    try:
        with stacks.running_stack(
            data_dir, env=env, redis_url=redis_url, args=args, api_keys=keys, prefix="e2e"
        ) as stack:
            yield stack
    except StackError as exc:
        pytest.fail(str(exc))
