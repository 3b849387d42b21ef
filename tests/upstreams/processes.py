"""Servers the upstream tests start as subprocesses: started with a log file, ready by a deadline, stopped for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

STOP_TIMEOUT_S = 10.0


@contextlib.contextmanager
def served(
    name: str,
    command: Sequence[str],
    *,
    ready_url: str,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ready_timeout_s: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends; ready once `ready_url` answers 200 (polled, with a deadline)."""
    full_env = {**os.environ, **(env or {})}
    with log_path.open("wb") as log:
        # A session of its own so that the whole process group (LiteLLM's workers, npx's node) can be stopped.
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd, start_new_session=True
        )
    try:
        _wait_ready(name, process, ready_url, log_path, ready_timeout_s)
        yield process
    finally:
        _stop(process)


def log_tail(log_path: Path, lines: int = 30) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(name: str, process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode} before it was ready\n{log_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() >= deadline:
            _stop(process)
            pytest.fail(f"{name} was not ready at {url} within {timeout_s:.0f} s\n{log_tail(log_path)}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
