"""The supervisor on plain child processes: restarts with backoff and a counted metric, the children file, the
stop order by layer, SIGKILL for a child that ignores SIGTERM; and the local key file's mode."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from orchestrator.cli import _local_key
from orchestrator.supervisor import Backoff, ChildSpec, Supervisor
from tests.stack import wait_until

# A child that records its own SIGTERM in a file (so the test sees the stop order), then exits.
_POLITE = """
import signal, sys, time
def stop(*_):
    with open(sys.argv[1], "a") as f:
        f.write(sys.argv[2] + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(0.05)
"""
_STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.05)"


class _NeverStop:
    def is_set(self) -> bool:
        return False

    def wait(self, seconds: float) -> bool:
        time.sleep(seconds)
        return False


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    running = Supervisor(_NeverStop(), tmp_path / "children.json")
    yield running
    running.shutdown(timeout_s=3)


def _polite(name: str, role: str, layer: int, log: Path) -> ChildSpec:
    return ChildSpec(name, role, (sys.executable, "-c", _POLITE, str(log), name), dict(os.environ), layer)


def _pids(state_file: Path) -> dict[str, int | None]:
    return {c["name"]: c["pid"] for c in json.loads(state_file.read_text())["children"]}


def _restarts(role: str) -> float:
    value = REGISTRY.get_sample_value("orchestrator_child_restarts_total", {"role": role})
    return value or 0.0


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff(first=0.5, cap=4.0, stable_after=10.0)
    assert [backoff.delay(uptime=1.0) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(uptime=10.0) == 0.5
    assert backoff.delay(uptime=0.1) == 1.0


def test_a_killed_child_is_restarted_counted_and_listed(supervisor: Supervisor, tmp_path: Path) -> None:
    role = f"unit-{os.getpid()}"
    supervisor.start(_polite("one", role, 2, tmp_path / "stops"))
    first = _pids(supervisor.state_file)["one"]
    assert first is not None and _restarts(role) == 0
    os.kill(first, signal.SIGKILL)

    def restarted(old: int) -> int | None:
        supervisor.watch(timeout_s=0)
        pid = _pids(supervisor.state_file)["one"]
        return pid if pid not in (None, old) else None

    second = wait_until(lambda: restarted(first), "the child to be restarted", timeout_s=10)
    assert _restarts(role) == 1
    os.kill(second, signal.SIGKILL)
    started = time.monotonic()
    wait_until(lambda: restarted(second), "the second restart", timeout_s=10)
    assert time.monotonic() - started >= 1.0  # the second delay in a row is doubled
    assert _restarts(role) == 2
    assert json.loads(supervisor.state_file.read_text())["children"][0]["restarts"] == 2


def test_children_stop_by_layer_highest_first(supervisor: Supervisor, tmp_path: Path) -> None:
    log = tmp_path / "stops"
    for name, layer in (("redis", 0), ("model", 1), ("api", 2), ("worker", 2)):
        supervisor.start(_polite(name, f"unit-{name}", layer, log))
    # A SIGTERM before a child installed its handler would kill it silently: wait until every one has.
    wait_until(lambda: all(_handler_installed(pid) for pid in _pids(supervisor.state_file).values()), "children")
    supervisor.shutdown(timeout_s=5)
    order = log.read_text().split()
    assert sorted(order[:2]) == ["api", "worker"] and order[2:] == ["model", "redis"]
    assert set(_pids(supervisor.state_file).values()) == {None}


def test_a_child_that_ignores_sigterm_is_killed_at_the_deadline(supervisor: Supervisor) -> None:
    argv = (sys.executable, "-c", _STUBBORN)
    supervisor.start(ChildSpec("stubborn", "unit-stubborn", argv, dict(os.environ), layer=2))
    (pid,) = _pids(supervisor.state_file).values()
    assert pid is not None
    wait_until(lambda: _handler_installed(pid), "the child to ignore SIGTERM")
    started = time.monotonic()
    supervisor.shutdown(timeout_s=1.5)
    assert 1.0 <= time.monotonic() - started < 4.0
    assert not Path(f"/proc/{pid}").exists()


def _handler_installed(pid: int | None) -> bool:
    """Whether the process has a SIGTERM disposition of its own (caught or ignored), read from /proc."""
    if pid is None:
        return False
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    mask = int(fields["SigCgt"], 16) | int(fields["SigIgn"], 16)
    return bool(mask & (1 << (signal.SIGTERM - 1)))


def test_the_local_key_file_is_private_and_an_old_loose_one_is_fixed(tmp_path: Path) -> None:
    key = _local_key(tmp_path)
    path = tmp_path / "api_key"
    assert key.startswith("sk-orch-") and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert _local_key(tmp_path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
