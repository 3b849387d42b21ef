"""Real `orchestrator up` stacks as subprocesses, for tests that need every process (Celery workers included)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from bench.stack import KEY_A as KEY_A
from bench.stack import PROJECT_A as PROJECT_A
from bench.stack import Stack as Stack

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY_B, PROJECT_B = "sk-e2e-key-b", "proj_e2e_b"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _drain(pipe: object, lines: queue.Queue[str | None]) -> None:
    """Read the stack's stdout until EOF, so the pipe never fills up and blocks the stack's processes."""
    assert hasattr(pipe, "readline")
    for raw in iter(pipe.readline, b""):
        lines.put(raw.decode(errors="replace").rstrip("\n"))
    lines.put(None)


@contextlib.contextmanager
def running_stack(
    data_dir: Path, *, env: dict[str, str], redis_url: str | None = None, args: tuple[str, ...] = ()
) -> Iterator[Stack]:
    """Start `orchestrator up`, wait (with a deadline) for its `api_key:` line, and stop it with SIGTERM."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in ("ORCH_MODEL_BASE_URL", "ORCH_REDIS_URL")}
    full_env.update(
        {
            "ORCH_API_KEYS": f"{KEY_A}={PROJECT_A},{KEY_B}={PROJECT_B}",
            "ORCH_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:12]}",
            "ORCH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
    )
    command = [sys.executable, "-m", "orchestrator", "up", "--port", str(port), "--data-dir", str(data_dir)]
    if redis_url is not None:
        command += ["--redis-url", redis_url]
    command += args
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "stack.log").open("wb") as log:
        # A session of its own, so that a stack that ignores SIGTERM can be killed with all its children.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, env=full_env, cwd=REPO_ROOT, start_new_session=True
        )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    stack = Stack(base_url="", process=process, data_dir=data_dir, key_prefix=full_env["ORCH_KEY_PREFIX"])
    try:
        api_key = _wait_until_up(stack, lines)
        assert api_key == KEY_A, f"the stack announced key {api_key!r}, not the first ORCH_API_KEYS entry"
        yield stack
    finally:
        _stop(stack)


def _wait_until_up(stack: Stack, lines: queue.Queue[str | None]) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(
                f"`orchestrator up` did not print its api_key line within {STARTUP_TIMEOUT_S}s\n{stack.log_tail()}"
            )
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail(f"`orchestrator up` exited before it was up (rc={stack.process.poll()})\n{stack.log_tail()}")
        stack.stdout.append(line)
        key, _, value = line.strip().partition(":")
        if key == "base_url":
            stack.base_url = value.strip()
        elif key == "api_key":
            assert stack.base_url, "the api_key line came before the base_url line"
            return value.strip()


def _stop(stack: Stack) -> None:
    process = stack.process
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(f"`orchestrator up` did not exit within {STOP_TIMEOUT_S}s of SIGTERM\n{stack.log_tail()}")
    elapsed = time.monotonic() - started
    assert process.returncode == 0, f"`orchestrator up` exited with {process.returncode}\n{stack.log_tail()}"
    assert elapsed < STOP_TIMEOUT_S
