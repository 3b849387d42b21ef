"""Running code through the real sandbox as a root worker (this process) or as a non-root worker (a child process)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.stack import REPO_ROOT
from workers.tools.code_interpreter.sandbox import BubblewrapSandbox, SandboxLimits, SandboxResult

RUNNER = REPO_ROOT / "tests" / "tools" / "sandbox_runner.py"
WORKER_UID = 10001  # the image's user (deploy/Dockerfile)
Run = Callable[..., SandboxResult]


def system_python() -> str | None:
    """A Python another uid can execute (this venv's may live under /root); the runner needs only the stdlib."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def in_process_runner() -> Run:
    sandbox = BubblewrapSandbox()
    if sandbox.unavailable_reason is not None:
        pytest.fail(f"bubblewrap cannot isolate code here: {sandbox.unavailable_reason}")

    def run(code: str, **limits: Any) -> SandboxResult:
        return sandbox.run(code, SandboxLimits(**limits))

    return run


def start_worker(
    code: str, env: dict[str, str] | None = None, *, as_uid: int | None = WORKER_UID, **limits: Any
) -> subprocess.Popen[str]:
    """The runner as `as_uid` (None: this process's uid), about to run `code`; its stdout is the result as JSON."""
    python = sys.executable if as_uid is None else system_python()
    if as_uid is not None and (os.geteuid() != 0 or python is None):
        pytest.skip("a worker of another uid needs root to start it and a system Python")
    assert python is not None
    proc = subprocess.Popen(
        [python, "-I", str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        user=as_uid,
        group=as_uid,
        extra_groups=None if as_uid is None else [],
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"code": code, "limits": limits}))
    proc.stdin.close()
    return proc


def non_root_runner(env: dict[str, str] | None = None) -> Run:
    def run(code: str, **limits: Any) -> SandboxResult:
        proc = start_worker(code, env, **limits)
        assert proc.stdout is not None
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 0, out
        answer = json.loads(out)
        if "unavailable" in answer:
            pytest.fail(f"bubblewrap cannot isolate code for a non-root worker: {answer['unavailable']}")
        return SandboxResult(**answer)

    return run


def live_pids(marker: str) -> list[int]:
    """Host processes whose command line holds `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def assert_exits(pid: int, timeout_s: float = 10) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        # A pidfd turns readable when the process has exited: an event to wait on, not a sleep.
        readable, _, _ = select.select([pidfd], [], [], timeout_s)
        assert readable, f"process {pid} started by the sandboxed code outlived its run"
    finally:
        os.close(pidfd)


def assert_all_gone(marker: str) -> None:
    for pid in live_pids(marker):
        assert_exits(pid)
    assert live_pids(marker) == []
