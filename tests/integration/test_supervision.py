"""Supervision on real `orchestrator up` stacks: a child killed with SIGKILL is restarted (a run worker, the
embedded server with its data) and counted exactly once; the workers ride out a Redis outage without a restart;
SIGTERM stops every child."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import redis

from orchestrator.store import Keys
from tests.stack import PROJECT_A, Stack, running_stack, wait_until

pytestmark = pytest.mark.integration

ROLES = ("redis", "mock-model", "api", "worker-runs", "worker-code-interpreter", "worker-file-search", "sweeper")
WORKER_ROLES = ("worker-runs", "worker-code-interpreter", "worker-file-search")
OUTAGE_S = 10.0


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("supervised"), env={"ORCH_LOG_LEVEL": "INFO"}) as running:
        yield running


def _pid(stack: Stack, name: str) -> int | None:
    pid: int | None = stack.children()[name]["pid"]
    return pid


def _replaced(stack: Stack, name: str, old: int) -> int | None:
    """The child's new pid once the supervisor restarted it."""
    pid = _pid(stack, name)
    return pid if pid not in (None, old) else None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _ready(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.base_url.removesuffix('/v1')}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _redis(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url, decode_responses=True, socket_timeout=5)


def _beating(stack: Stack, pool: str, pid: int) -> bool:
    client = _redis(stack)
    try:
        return f"{socket.gethostname()}:{pid}" in client.hgetall(Keys(stack.key_prefix).worker_heartbeat(pool))
    finally:
        client.close()


def _completed_run(client: openai.OpenAI, assistant_id: str) -> tuple[str, str]:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 3x + 11 = 14"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    return thread.id, run.id


def _claimed_by(stack: Stack, thread_id: str, run_id: str) -> str:
    client = _redis(stack)
    try:
        return str(client.hget(Keys(stack.key_prefix).run(PROJECT_A, thread_id, run_id), "claimed_by"))
    finally:
        client.close()


def _restart_counts(stack: Stack) -> dict[str, float]:
    return {role: stack.restarts(role) for role in ROLES}


def test_a_killed_run_worker_is_restarted_and_serves_the_next_run(supervised: Stack) -> None:
    before = _restart_counts(supervised)
    old = _pid(supervised, "worker-runs-1")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: _replaced(supervised, "worker-runs-1", old), "the run worker's restart", timeout_s=30)
    wait_until(lambda: _beating(supervised, "runs", new), "the new run worker's heartbeat", timeout_s=60)

    client = supervised.client()
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    thread_id, run_id = _completed_run(client, assistant.id)
    assert _claimed_by(supervised, thread_id, run_id).endswith(f":{new}")
    after = _restart_counts(supervised)
    assert {role: after[role] - before[role] for role in ROLES} == {role: int(role == "worker-runs") for role in ROLES}
    assert "child.restarted" in (supervised.data_dir / "stack.log").read_text()
    status = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--json", "--data-dir", str(supervised.data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={"ORCH_KEY_PREFIX": supervised.key_prefix, "PATH": "/usr/bin"},
    ).stdout
    assert json.loads(status)["processes"]["worker-runs-1"] == {"pid": new, "restarts": 1}


def test_a_killed_embedded_server_comes_back_with_its_data(supervised: Stack) -> None:
    client = supervised.client()
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    before = _restart_counts(supervised)
    old = _pid(supervised, "redis")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: _replaced(supervised, "redis", old), "the embedded server's restart", timeout_s=30)
    wait_until(lambda: _ready(supervised), "/readyz to answer 200 again", timeout_s=60)

    # Written before the kill, replayed from the append-only file by the new server on the same port.
    assert client.beta.assistants.retrieve(assistant.id).id == assistant.id
    _completed_run(client, assistant.id)
    after = _restart_counts(supervised)
    assert {role: after[role] - before[role] for role in ROLES} == {role: int(role == "redis") for role in ROLES}


def test_workers_ride_out_a_redis_outage_without_a_restart(supervised: Stack) -> None:
    client = supervised.client()
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    _completed_run(client, assistant.id)  # every worker thread that talks to Redis exists before the outage
    workers = {name: c["pid"] for name, c in supervised.children().items() if c["role"] in WORKER_ROLES}
    before = _restart_counts(supervised)
    server = _pid(supervised, "redis")
    assert server is not None
    os.kill(server, signal.SIGSTOP)  # every connection hangs: no answer, no error
    try:
        # The outage itself: for its whole length, every worker process must stay up.
        end = time.monotonic() + OUTAGE_S
        while time.monotonic() < end:
            assert all(_alive(pid) for pid in workers.values()), supervised.log_tail()
            time.sleep(0.5)
    finally:
        os.kill(server, signal.SIGKILL)  # then it dies: every connection drops and must be made again
    wait_until(lambda: _replaced(supervised, "redis", server), "the embedded server's restart", timeout_s=30)
    wait_until(lambda: _ready(supervised), "/readyz to answer 200 again", timeout_s=60)

    for _ in range(2):
        _completed_run(client, assistant.id)
    assert {name: c["pid"] for name, c in supervised.children().items() if c["role"] in WORKER_ROLES} == workers
    after = _restart_counts(supervised)
    assert {role: after[role] - before[role] for role in WORKER_ROLES} == dict.fromkeys(WORKER_ROLES, 0)
    assert after["redis"] - before["redis"] == 1


def test_sigterm_stops_every_child(tmp_path: Path) -> None:
    with running_stack(tmp_path / "stack", env={}) as stack:
        pids = {name: c["pid"] for name, c in stack.children().items()}
        assert set(pids) >= {"redis", "mock-model", "api", "worker-runs-1", "sweeper"}
        assert all(_alive(pid) for pid in pids.values())
        group = stack.process.pid  # `up` leads its own session, which its children share
    # running_stack sent SIGTERM and checked that `up` exited with 0 within its deadline.
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    assert {c["pid"] for c in stack.children().values()} == {None}
