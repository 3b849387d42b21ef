"""Escape attempts through the real isolated sandbox, driven by a root worker and by a non-root (uid 10001) worker.

Each attempt is what a tester did or could do from code_interpreter: reach Redis or the API, read the worker's
secrets, read host files, exhaust processes, memory, time or output, outlive the run, leave files for the next one.
The `unsafe` mode lets all of these through by design; tests/tools/test_modes.py shows it runs only on request.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import REPO_ROOT
from tests.tools.conftest import SECRET
from tests.tools.support import (
    WORKER_UID,
    Run,
    assert_all_gone,
    assert_exits,
    in_process_runner,
    live_pids,
    start_worker,
)
from workers.tools.code_interpreter.sandbox import TRUNCATION_MARKER, bubblewrap

CONNECT = """
import socket
for port in {ports!r}:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=3).close()
        print(port, 'connected')
    except OSError as exc:
        print(port, type(exc).__name__)
"""


@pytest.fixture
def api_port() -> Iterator[int]:
    """A listening port on the worker's loopback, standing for the API (8000 under `up`)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_no_network_to_redis_or_the_api(isolated_run: Run, api_port: int) -> None:
    with socket.create_connection(("127.0.0.1", 6379), timeout=3):
        pass  # Redis is there for the worker: the sandbox not reaching it is the isolation, not an absence.
    result = isolated_run(CONNECT.format(ports=(6379, api_port, 8000)))
    assert result.exit_code == 0, result.logs
    assert "connected" not in result.logs
    assert len(result.logs.splitlines()) == 3


def test_no_view_of_the_worker_environment(isolated_run: Run) -> None:
    code = (
        "import os\n"
        "print(dict(os.environ))\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "print('pids', sorted(map(int, pids)))\n"
        "for pid in ['1', 'self', *pids]:\n"
        "    try:\n"
        "        print(pid, open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as exc:\n"
        "        print(pid, type(exc).__name__)\n"
    )
    result = isolated_run(code)
    assert result.exit_code == 0, result.logs
    assert SECRET not in result.logs
    assert "ORCH_" not in result.logs
    # Its own pid namespace: bwrap's init, the launcher turned python, nothing of the host.
    assert "pids [1, 2]" in result.logs


def test_no_host_files(isolated_run: Run, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o644)
    paths = ("/etc/shadow", "/etc/redis", str(secret_file), str(REPO_ROOT / "pyproject.toml"), __file__, os.getcwd())
    code = (
        "import os\n"
        f"for path in {paths!r}:\n"
        "    print(path, os.path.exists(path))\n"
        "for path in ('/root', '/work', '/home', '/opt'):\n"
        "    print(path, sorted(os.listdir(path)) if os.path.isdir(path) else None)\n"
    )
    result = isolated_run(code)
    assert result.exit_code == 0, result.logs
    lines = result.logs.splitlines()
    for path in paths:
        assert f"{path} False" in lines
    listing = dict(line.split(" ", 1) for line in lines[len(paths) :])
    # Only what the interpreter needs: a /root-based Python install shows as its own subtree, nothing beside it.
    assert listing["/root"] in ("None", "['.pyenv']")
    assert listing["/work"] == "None"
    assert listing["/home"] == "None"
    assert listing["/opt"] in ("None", "['venv']")


def test_runs_unprivileged_and_cannot_become_root(isolated_run: Run) -> None:
    code = (
        "import os\n"
        "print('uid', os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
        "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "print('caps', int(status['CapEff'], 16), int(status['CapPrm'], 16), 'nnp', status['NoNewPrivs'].strip())\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('setuid ok')\n"
        "except OSError:  # EPERM; EINVAL in a user namespace, where uid 0 does not even exist\n"
        "    print('setuid denied')\n"
        "import subprocess\n"
        "print(subprocess.run(['su', '-c', 'id'], capture_output=True, stdin=subprocess.DEVNULL).returncode != 0)\n"
    )
    result = isolated_run(code)
    assert result.exit_code == 0, result.logs
    uid_line, caps_line, setuid_line, su_failed = result.logs.splitlines()
    uid, euid, gid, groups = uid_line.split(" ", 4)[1:]
    assert uid == euid != "0"
    assert gid != "0"
    assert groups == "[]" or "0" not in groups.strip("[]").split(", ")
    assert caps_line == "caps 0 0 nnp 1"
    assert setuid_line == "setuid denied"
    assert su_failed == "True"


def test_fork_bomb_hits_the_process_limit(isolated_run: Run) -> None:
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while children < 2000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print('stopped after', children, type(exc).__name__)\n"
    )
    result = isolated_run(code, max_processes=32, timeout_s=20)
    assert not result.timed_out, result.logs
    words = result.logs.split()
    assert words[:2] == ["stopped", "after"], result.logs
    assert int(words[2]) < 32
    assert words[3] == "BlockingIOError"
    # The host is fine: the next execution forks as usual.
    assert isolated_run("import subprocess\nprint(subprocess.run(['true']).returncode)").logs == "0\n"


def test_unbounded_fork_bomb_ends_with_its_run(isolated_run: Run) -> None:
    marker = f"fork-bomb-{uuid.uuid4().hex}"
    # Re-exec'd with the marker in its argv, which every forked copy shares: the test can count them on the host.
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {bomb!r}, {marker!r}])"
    result = isolated_run(code, max_processes=32, timeout_s=2)
    assert result.timed_out
    assert_all_gone(marker)


def test_memory_bomb_hits_the_memory_limit(isolated_run: Run) -> None:
    result = isolated_run("data = bytearray(2 * 1024**3)\nprint('allocated')", memory_mb=256)
    assert result.exit_code == 1
    assert "MemoryError" in result.logs
    assert "allocated" not in result.logs


def test_scratch_space_is_capped(isolated_run: Run) -> None:
    code = (
        "chunk = b'x' * 1024 * 1024\n"
        "with open('/mnt/data/fill', 'wb') as f:\n"
        "    try:\n"
        "        for _ in range(64):\n"
        "            f.write(chunk)\n"
        "            f.flush()\n"
        "    except OSError as exc:\n"
        "        print('full', exc.errno)\n"
    )
    result = isolated_run(code, scratch_mb=8, file_size_mb=64)
    assert result.logs == "full 28\n"  # ENOSPC: the tmpfs is 8 MB


def test_endless_loop_is_stopped_by_the_wall_clock(isolated_run: Run) -> None:
    started = time.monotonic()
    result = isolated_run("import time\nwhile True:\n    time.sleep(0.1)", timeout_s=2)
    assert result.timed_out
    assert result.exit_code is None
    assert result.logs == "Execution timed out after 2s"
    assert time.monotonic() - started < 15


def test_huge_output_is_capped(isolated_run: Run) -> None:
    code = "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1024 * 1024)\nprint('done')"
    result = isolated_run(code, max_output_bytes=10_000, timeout_s=60)
    assert result.exit_code == 0
    assert result.logs == "x" * 10_000 + TRUNCATION_MARKER


def test_a_child_that_outlives_the_timeout_is_killed(isolated_run: Run) -> None:
    marker = f"outlive-{uuid.uuid4().hex}"
    # A new session and a double fork: the child leaves the process group the worker kills.
    child = "import os, time\nos.setsid()\nif os.fork() == 0:\n    time.sleep(600)\n"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}, {marker!r}], start_new_session=True)\n"
        "print('spawned', flush=True)\n"
        "time.sleep(600)\n"
    )
    result = isolated_run(code, timeout_s=2)
    assert result.timed_out
    assert result.logs.startswith("spawned\n")
    assert_all_gone(marker)


def test_files_do_not_survive_to_the_next_execution(isolated_run: Run) -> None:
    first = isolated_run("open('/mnt/data/left.txt', 'w').write('x')\nopen('/tmp/left.txt', 'w').write('x')")
    second = isolated_run("import os\nprint(os.listdir('/mnt/data'), os.listdir('/tmp'))")
    assert first.exit_code == 0, first.logs
    assert second.logs == "[] []\n"


def test_only_scratch_dirs_are_writable(isolated_run: Run) -> None:
    code = (
        "import os, sys\n"
        "for directory in ('/', '/usr', '/etc', '/proc/sys', sys.prefix, '/sandbox', '/tmp', '/mnt/data'):\n"
        "    try:\n"
        "        open(os.path.join(directory, 'probe'), 'w').close()\n"
        "        print(directory, 'writable')\n"
        "    except OSError:\n"
        "        print(directory, 'denied')\n"
    )
    lines = [line.split(" ") for line in isolated_run(code).logs.splitlines()]
    assert len(lines) == 8
    assert {d for d, outcome in lines if outcome == "writable"} == {"/tmp", "/mnt/data"}


@pytest.mark.parametrize("worker_uid", [None, WORKER_UID], ids=["this-uid-worker", "uid-10001-worker"])
def test_sandbox_dies_with_a_killed_worker(worker_uid: int | None) -> None:
    marker = f"orphan-{uuid.uuid4().hex}"
    sleeper = f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])"
    worker = start_worker(f"import subprocess, sys, time\n{sleeper}\ntime.sleep(600)", as_uid=worker_uid, timeout_s=300)
    deadline = time.monotonic() + 30
    while not live_pids(marker):
        assert time.monotonic() < deadline, "the sandboxed code never started"
        assert worker.poll() is None, "the worker exited early"
        time.sleep(0.05)  # polling the condition above, with its deadline
    pids = live_pids(marker)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    for pid in pids:
        assert_exits(pid)


def test_root_worker_gives_each_execution_its_own_uid() -> None:
    if os.geteuid() != 0:
        pytest.skip("the per-execution uid is the root worker's scheme")
    run = in_process_runner()
    uids = {int(run("import os\nprint(os.getuid())").logs) for _ in range(3)}
    assert len(uids) == 3
    assert all(uid in bubblewrap.EPHEMERAL_UIDS for uid in uids)


def test_no_new_user_namespace_nor_risky_kernel_calls(isolated_run: Run) -> None:
    code = (
        "import ctypes, errno, platform, subprocess\n"
        "for argv in (['unshare', '--user', 'true'], ['unshare', '--user', '--map-root-user', 'true']):\n"
        "    print(subprocess.run(argv, capture_output=True).returncode != 0)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "calls = {'x86_64': (250, 321, 101), 'aarch64': (219, 280, 117)}[platform.machine()]  # keyctl, bpf, ptrace\n"
        "for number in calls:\n"
        "    print(libc.syscall(number, 0, 0, 0, 0), errno.errorcode.get(ctypes.get_errno()))\n"
    )
    result = isolated_run(code)
    assert result.logs.splitlines() == ["True", "True", "-1 EPERM", "-1 EPERM", "-1 EPERM"], result.logs
