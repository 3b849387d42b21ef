"""The code_interpreter sandbox, on the bwrap path where bwrap works here and always on the plain-process fallback."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workers.tools.code_interpreter import sandbox
from workers.tools.code_interpreter.sandbox import TRUNCATION_MARKER, SandboxLimits, SandboxResult, run_python

SAFE_ENV = {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND"}


@pytest.fixture(params=["bwrap", "fallback"])
def sandboxed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the test runs through bwrap; every test taking it runs on both paths."""
    if request.param == "bwrap":
        if not sandbox.bwrap_available():
            pytest.skip("bwrap is missing or cannot create namespaces on this machine (probe failed)")
        return True
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: False)
    return False


@pytest.fixture
def bwrap_only() -> None:
    if not sandbox.bwrap_available():
        pytest.skip("bwrap is missing or cannot create namespaces on this machine (probe failed)")


def run(code: str, **limits: Any) -> SandboxResult:
    return run_python(code, SandboxLimits(**limits))


def test_prints_stdout(sandboxed: bool) -> None:
    result = run("print('hello from the sandbox')")
    assert result == SandboxResult(logs="hello from the sandbox\n", exit_code=0, timed_out=False, sandboxed=sandboxed)


def test_traceback_is_in_logs_and_exit_code_is_not_an_exception(sandboxed: bool) -> None:
    result = run("print('before')\n1/0")
    assert result.exit_code == 1
    assert not result.timed_out
    assert result.logs.startswith("before\n")
    assert "Traceback (most recent call last)" in result.logs
    assert "ZeroDivisionError: division by zero" in result.logs


def test_stdout_and_stderr_interleave_in_write_order(sandboxed: bool) -> None:
    code = "import sys\nprint('a', flush=True)\nprint('b', file=sys.stderr, flush=True)\nprint('c', flush=True)"
    assert run(code).logs == "a\nb\nc\n"


def _live_pids(marker: str) -> list[int]:
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


def _assert_exits(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        # A pidfd turns readable when the process has exited: an event to wait on, not a sleep.
        readable, _, _ = select.select([pidfd], [], [], 10)
        assert readable, f"process {pid} started by the sandboxed code survived the timeout"
    finally:
        os.close(pidfd)


def test_timeout_kills_the_code_and_the_processes_it_started(sandboxed: bool) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', {marker!r}])\n"
        "print('spawned', flush=True)\n"
        "while True:\n"
        "    pass\n"
    )
    started = time.monotonic()
    result = run(code, timeout_s=2)
    elapsed = time.monotonic() - started

    assert result.timed_out
    assert result.exit_code is None
    assert result.logs == "spawned\nExecution timed out after 2s"
    assert elapsed < 10
    for pid in _live_pids(marker):
        _assert_exits(pid)


def test_background_child_does_not_hold_the_run_open(sandboxed: bool) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
        "print('started', flush=True)\n"
    )
    result = run(code, timeout_s=20)
    assert (result.logs, result.exit_code, result.timed_out) == ("started\n", 0, False)
    for pid in _live_pids(marker):
        _assert_exits(pid)


def test_rlimits_are_set_inside(sandboxed: bool) -> None:
    code = (
        "import resource\n"
        "for name in ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NPROC', 'RLIMIT_CORE'):\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
    )
    result = run(code, memory_mb=300, cpu_s=7, file_size_mb=3, max_processes=20)
    assert result.logs.splitlines() == [
        f"RLIMIT_AS {300 * 2**20} {300 * 2**20}",
        "RLIMIT_CPU 7 7",
        f"RLIMIT_FSIZE {3 * 2**20} {3 * 2**20}",
        "RLIMIT_NPROC 20 20",
        "RLIMIT_CORE 0 0",
    ]


def test_memory_limit(sandboxed: bool) -> None:
    result = run("data = bytearray(2 * 1024**3)\nprint('allocated')", memory_mb=256)
    assert result.exit_code == 1
    assert "MemoryError" in result.logs
    assert "allocated" not in result.logs


def test_file_size_limit(sandboxed: bool) -> None:
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * 10 * 1024 * 1024)\nprint('written')"
    result = run(code, file_size_mb=1)
    assert result.exit_code == 1
    assert "File too large" in result.logs
    assert "written" not in result.logs


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock(sandboxed: bool) -> None:
    result = run("while True:\n    pass", cpu_s=1, timeout_s=60)
    assert not result.timed_out
    assert result.exit_code is not None
    assert result.exit_code > 128  # killed by SIGXCPU or SIGKILL


def test_output_is_truncated_with_a_marker(sandboxed: bool) -> None:
    result = run("print('x' * 100_000)\nprint('done')", max_output_bytes=1000)
    assert result.exit_code == 0
    assert result.logs == "x" * 1000 + TRUNCATION_MARKER


def test_truncation_does_not_split_a_character(sandboxed: bool) -> None:
    result = run("print('é' * 1000)", max_output_bytes=1001)  # 2 bytes each: the limit falls inside the 501st
    assert result.logs == "é" * 500 + TRUNCATION_MARKER


def test_environment_is_scrubbed(sandboxed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_SECRET_TOKEN", "hunter2-do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    code = "import os\nfor key, value in os.environ.items():\n    print(f'{key}={value}')\nprint('cwd=' + os.getcwd())"
    result = run(code)

    assert result.exit_code == 0
    assert "do-not-leak" not in result.logs
    env = dict(line.split("=", 1) for line in result.logs.splitlines())
    cwd = env.pop("cwd")
    env.pop("PWD", None)  # bwrap's --chdir sets it
    assert set(env) == SAFE_ENV
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["MPLBACKEND"] == "Agg"
    assert env["HOME"] == cwd
    if sandboxed:
        assert cwd == "/mnt/data"


def test_each_run_gets_a_fresh_directory_that_is_deleted_afterwards(sandboxed: bool) -> None:
    first = run("import os\nopen('leftover.txt', 'w').write('x')\nprint(os.getcwd())")
    second = run("import os\nprint(sorted(os.listdir('.')))")

    assert first.exit_code == 0
    assert second.logs == "[]\n"
    if not sandboxed:
        assert not Path(first.logs.strip()).exists()


def test_network_is_unreachable_only_inside_bwrap(sandboxed: bool) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            f"for port in ({port}, 6379):\n"
            "    try:\n"
            "        socket.create_connection(('127.0.0.1', port), timeout=5).close()\n"
            "        print(port, 'connected')\n"
            "    except OSError as exc:\n"
            "        print(port, type(exc).__name__)\n"
        )
        result = run(code)

    assert result.exit_code == 0
    # The fallback connecting to the test's own listener shows the check would catch a leak.
    assert (f"{port} connected" in result.logs) is not sandboxed
    if sandboxed:
        assert "connected" not in result.logs


WRITE_PROBE = """
import os, sys
for directory in ('/', '/usr', '/etc', '/root', sys.prefix, '/tmp', '/mnt/data'):
    try:
        with open(os.path.join(directory, 'sandbox-write-probe'), 'w') as f:
            f.write('x')
        print(directory, 'writable')
    except OSError as exc:
        print(directory, 'denied', exc.errno)
"""


def test_only_the_work_dir_and_tmp_are_writable_in_bwrap(bwrap_only: None) -> None:
    result = run(WRITE_PROBE)

    assert result.sandboxed
    assert result.exit_code == 0
    lines = dict(line.split(" ", 1) for line in result.logs.splitlines())
    assert lines.pop("/tmp") == "writable"
    assert lines.pop("/mnt/data") == "writable"
    assert len(lines) == 5
    for directory, outcome in lines.items():
        assert outcome.startswith("denied"), directory
    assert not Path(sys.prefix, "sandbox-write-probe").exists()


def test_host_secrets_and_sources_are_not_visible_in_bwrap(bwrap_only: None) -> None:
    hidden = ("/etc/shadow", "/etc/redis", sandbox.__file__, __file__)
    code = f"import os\nprint([path for path in {hidden!r} if os.path.exists(path)])"
    result = run(code)
    assert result.sandboxed
    assert result.logs == "[]\n"


def test_host_processes_are_not_visible_in_bwrap(bwrap_only: None) -> None:
    result = run("import os\nprint(sorted(int(pid) for pid in os.listdir('/proc') if pid.isdigit()))")
    assert result.logs == "[1, 2]\n"  # its own pid namespace: bwrap's init and the code


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    sandbox.bwrap_available.cache_clear()
    yield
    sandbox.bwrap_available.cache_clear()


def test_probe_runs_once_per_process(fresh_probe: None, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(argv: list[str], **kwargs: Any) -> Any:
        calls.append(argv)
        return real_run(argv, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    first = sandbox.bwrap_available()
    assert sandbox.bwrap_available() is first
    assert len(calls) == (1 if shutil.which("bwrap") else 0)


@pytest.mark.parametrize(
    "fake_bwrap", [None, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"]
)
def test_without_a_working_bwrap_the_code_still_runs_unsandboxed(
    fake_bwrap: str | None, fresh_probe: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if fake_bwrap is not None:
        (tmp_path / "bwrap").write_text(fake_bwrap)
        (tmp_path / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not sandbox.bwrap_available()
    result = run_python("print('ok')")
    assert result == SandboxResult(logs="ok\n", exit_code=0, timed_out=False, sandboxed=False)


def test_runs_the_given_interpreter(sandboxed: bool) -> None:
    # The resolved base interpreter, not this venv's: its installation must be found and bound on its own.
    python = os.path.realpath(sys.executable)
    result = run_python("import sys\nprint(sys.executable)\nprint(sys.base_prefix)", python=python)
    assert result.exit_code == 0, result.logs
    assert result.logs == f"{python}\n{sys.base_prefix}\n"
