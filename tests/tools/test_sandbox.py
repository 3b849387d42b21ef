"""Behaviour every sandbox mode shares: output, exit codes, limits, timeouts, a scrubbed environment."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.tools.support import assert_all_gone
from workers.tools.code_interpreter.sandbox import (
    TRUNCATION_MARKER,
    BubblewrapSandbox,
    Sandbox,
    SandboxLimits,
    SandboxResult,
    UnsafeSandbox,
)

SAFE_ENV = {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "MPLCONFIGDIR", "XDG_CACHE_HOME"}


@pytest.fixture(params=["bubblewrap", "unsafe"])
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    chosen: Sandbox = BubblewrapSandbox() if request.param == "bubblewrap" else UnsafeSandbox()
    assert chosen.unavailable_reason is None, chosen.unavailable_reason
    return chosen


def run(sandbox: Sandbox, code: str, **limits: Any) -> SandboxResult:
    return sandbox.run(code, SandboxLimits(**limits))


def test_prints_stdout(sandbox: Sandbox) -> None:
    result = run(sandbox, "print('hello from the sandbox')")
    assert result == SandboxResult(
        logs="hello from the sandbox\n", exit_code=0, timed_out=False, sandboxed=sandbox.isolated
    )


def test_traceback_is_in_logs_and_exit_code_is_not_an_exception(sandbox: Sandbox) -> None:
    result = run(sandbox, "print('before')\n1/0")
    assert result.exit_code == 1
    assert not result.timed_out
    assert result.logs.startswith("before\n")
    assert "Traceback (most recent call last)" in result.logs
    assert "ZeroDivisionError: division by zero" in result.logs


def test_stdout_and_stderr_interleave_in_write_order(sandbox: Sandbox) -> None:
    code = "import sys\nprint('a', flush=True)\nprint('b', file=sys.stderr, flush=True)\nprint('c', flush=True)"
    assert run(sandbox, code).logs == "a\nb\nc\n"


def test_death_by_signal_is_128_plus_the_signal(sandbox: Sandbox) -> None:
    assert run(sandbox, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)").exit_code == 128 + 15


def test_timeout_kills_the_code_and_the_processes_it_started(sandbox: Sandbox) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', {marker!r}])\n"
        "print('spawned', flush=True)\n"
        "while True:\n"
        "    pass\n"
    )
    started = time.monotonic()
    result = run(sandbox, code, timeout_s=2)
    assert result.timed_out
    assert result.exit_code is None
    assert result.logs == "spawned\nExecution timed out after 2s"
    assert time.monotonic() - started < 10
    assert_all_gone(marker)


def test_background_child_does_not_hold_the_run_open(sandbox: Sandbox) -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
        "print('started', flush=True)\n"
    )
    result = run(sandbox, code, timeout_s=20)
    assert (result.logs, result.exit_code, result.timed_out) == ("started\n", 0, False)
    assert_all_gone(marker)


def test_rlimits_are_set_inside(sandbox: Sandbox) -> None:
    code = (
        "import resource\n"
        "for name in ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NPROC', 'RLIMIT_CORE'):\n"
        "    print(name, *resource.getrlimit(getattr(resource, name)))\n"
    )
    result = run(sandbox, code, memory_mb=300, cpu_s=7, file_size_mb=3, max_processes=20)
    assert result.logs.splitlines() == [
        f"RLIMIT_AS {300 * 2**20} {300 * 2**20}",
        "RLIMIT_CPU 7 7",
        f"RLIMIT_FSIZE {3 * 2**20} {3 * 2**20}",
        "RLIMIT_NPROC 20 20",
        "RLIMIT_CORE 0 0",
    ]


def test_file_size_limit(sandbox: Sandbox) -> None:
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * 10 * 1024 * 1024)\nprint('written')"
    result = run(sandbox, code, file_size_mb=1)
    assert result.exit_code == 1
    assert "File too large" in result.logs
    assert "written" not in result.logs


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock(sandbox: Sandbox) -> None:
    result = run(sandbox, "while True:\n    pass", cpu_s=1, timeout_s=60)
    assert not result.timed_out
    assert result.exit_code is not None
    assert result.exit_code > 128  # killed by SIGXCPU or SIGKILL


def test_output_is_truncated_with_a_marker(sandbox: Sandbox) -> None:
    result = run(sandbox, "print('x' * 100_000)\nprint('done')", max_output_bytes=1000)
    assert result.exit_code == 0
    assert result.logs == "x" * 1000 + TRUNCATION_MARKER


def test_truncation_does_not_split_a_character(sandbox: Sandbox) -> None:
    result = run(sandbox, "print('é' * 1000)", max_output_bytes=1001)  # 2 bytes each: the limit falls inside the 501st
    assert result.logs == "é" * 500 + TRUNCATION_MARKER


def test_environment_is_scrubbed(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_SECRET_TOKEN", "hunter2-do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    code = "import os\nfor key, value in os.environ.items():\n    print(f'{key}={value}')\nprint('cwd=' + os.getcwd())"
    result = run(sandbox, code)

    assert result.exit_code == 0
    assert "do-not-leak" not in result.logs
    env = dict(line.split("=", 1) for line in result.logs.splitlines())
    cwd = env.pop("cwd")
    env.pop("PWD", None)  # bwrap's --chdir sets it
    assert set(env) == SAFE_ENV
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["HOME"] == cwd
    if sandbox.isolated:
        assert cwd == "/mnt/data"


def test_each_run_gets_a_fresh_directory(sandbox: Sandbox) -> None:
    first = run(sandbox, "import os\nopen('leftover.txt', 'w').write('x')\nprint(os.getcwd())")
    second = run(sandbox, "import os\nprint(sorted(os.listdir('.')))")
    assert first.exit_code == 0
    assert second.logs == "[]\n"
    if not sandbox.isolated:
        assert not Path(first.logs.strip()).exists()


@pytest.mark.parametrize("mode", ["bubblewrap", "unsafe"])
def test_runs_the_given_interpreter(mode: str) -> None:
    # The resolved base interpreter, not this venv's: its installation must be found and bound on its own.
    python = os.path.realpath(sys.executable)
    chosen: Sandbox = BubblewrapSandbox(python=python) if mode == "bubblewrap" else UnsafeSandbox(python=python)
    result = run(chosen, "import sys\nprint(sys.executable)\nprint(sys.base_prefix)")
    assert result.exit_code == 0, result.logs
    assert result.logs == f"{python}\n{sys.base_prefix}\n"


def test_a_venv_is_mounted_away_from_the_checkout() -> None:
    if sys.prefix == sys.base_prefix:
        pytest.skip("the tests do not run from a venv")
    result = run(BubblewrapSandbox(), "import sys\nprint(sys.prefix)\nimport pydantic")
    assert result == SandboxResult(logs="/opt/venv\n", exit_code=0, timed_out=False, sandboxed=True)


def test_multiprocessing_and_threads_work(sandbox: Sandbox) -> None:
    code = (
        "import multiprocessing, threading\n"
        "with multiprocessing.Pool(2) as pool:\n"
        "    print(pool.map(abs, [-1, -2, -3]))\n"
        "threads = [threading.Thread(target=print, args=(i,)) for i in range(4)]\n"
        "for thread in threads:\n"
        "    thread.start()\n"
        "for thread in threads:\n"
        "    thread.join()\n"
    )
    result = run(sandbox, code)
    assert result.exit_code == 0, result.logs
    assert result.logs.splitlines()[0] == "[1, 2, 3]"
    assert sorted(result.logs.splitlines()[1:]) == ["0", "1", "2", "3"]
