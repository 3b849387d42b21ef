"""The machine's RabbitMQ for the broker tests: found (or started) once, with a virtual host per test session.

Administration goes through `rabbitmqctl` (the management plugin need not be enabled), which needs root or the
rabbitmq user; without either, or without a reachable server, the tests skip (and fail under CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

HOST, PORT = "127.0.0.1", 5672
START_TIMEOUT_S = 60.0
CTL_TIMEOUT_S = 60.0


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (which installs RabbitMQ), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"RabbitMQ is needed here: {reason}")
    pytest.skip(f"RabbitMQ is not available: {reason}")


def listening(timeout_s: float = 1.0) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, PORT), timeout=timeout_s):
        return True
    return False


def ensure_running() -> None:
    """A server on 127.0.0.1:5672, started detached from its own binary when none listens."""
    if listening():
        return
    server = shutil.which("rabbitmq-server")
    if server is None:
        unavailable(f"nothing listens on {HOST}:{PORT} and rabbitmq-server is not installed")
    subprocess.run([server, "-detached"], check=False, capture_output=True, timeout=CTL_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not listening():
        if time.monotonic() > deadline:
            unavailable(f"rabbitmq-server -detached did not listen on {HOST}:{PORT} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.5)


def ctl(*args: str) -> str:
    """`rabbitmqctl ARGS` (quiet), its standard output; a failure fails the test with rabbitmqctl's message."""
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        unavailable("rabbitmqctl is not installed")
    done = subprocess.run([binary, "-q", *args], capture_output=True, text=True, timeout=CTL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        unavailable(f"`rabbitmqctl {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@contextlib.contextmanager
def session_vhost() -> Iterator[str]:
    """A fresh virtual host the guest user may use; yields its AMQP URL and deletes it (queues and all) after."""
    ensure_running()
    name = f"orch-test-{uuid.uuid4().hex[:12]}"
    ctl("add_vhost", name)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{HOST}:{PORT}/{name}"
    finally:
        ctl("delete_vhost", name)


def queue_types(vhost: str) -> dict[str, str]:
    """name -> type (classic, quorum, stream) of every queue in the virtual host."""
    rows = ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "type").splitlines()
    return dict(row.split("\t", 1) for row in rows if row.strip())
