"""A code_interpreter call end to end below Celery: the real bubblewrap sandbox, input files seeded into
/mnt/data, files and figures coming back, and sessions replayed from Redis (fakeredis here: the commands are plain)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import fakeredis
import pytest

from orchestrator.store.keys import Keys
from workers.tools.code_interpreter.runner import RESET_NOTE
from workers.tools.code_interpreter.sandbox import SandboxLimits
from workers.tools.code_interpreter.session import SessionStore, sandbox_files
from workers.tools.code_interpreter.tasks import CodeCall, ExecutionPolicy, run_call

POLICY = ExecutionPolicy(mode="bubblewrap", bwrap="bwrap", limits=SandboxLimits(timeout_s=20, cpu_s=21), replay_s=20)
CSV = b"month,sales\n1,10\n2,30\n3,20\n"


@dataclass
class MemoryFiles:
    """The Files API in a dict: what `run_call` reads inputs from and stores outputs in."""

    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, filename: str, data: bytes) -> str:
        file_id = f"file-{next(self.ids)}"
        self.files[file_id] = (filename, data)
        return file_id

    def filename(self, file_id: str) -> str | None:
        return self.files[file_id][0] if file_id in self.files else None

    def read(self, file_id: str) -> bytes | None:
        return self.files[file_id][1] if file_id in self.files else None

    def create(self, filename: str, data: bytes) -> str:
        return self.add(filename, data)


@pytest.fixture
def sessions() -> SessionStore:
    return SessionStore(fakeredis.FakeRedis(), Keys("t"), idle_s=60)


def logs(result: dict[str, object]) -> str:
    outputs = result["outputs"]
    assert isinstance(outputs, list)
    return "".join(o["logs"] for o in outputs if o["type"] == "logs")


def images(result: dict[str, object]) -> list[str]:
    outputs = result["outputs"]
    assert isinstance(outputs, list)
    return [o["image"]["file_id"] for o in outputs if o["type"] == "image"]


def call(code: str, *file_ids: str, thread: str = "thread_1") -> CodeCall:
    return CodeCall(project="p", thread_id=thread, code=code, file_ids=file_ids)


def test_an_input_file_is_read_a_plot_comes_back_as_an_image(sessions: SessionStore) -> None:
    files = MemoryFiles()
    csv = files.add("uploads/sales.csv", CSV)
    code = (
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv('/mnt/data/sales.csv')\n"
        "df.plot(x='month', y='sales')\n"
        "df.to_csv('/mnt/data/doubled.csv', index=False)\n"
        "print(df['sales'].sum())\n"
    )
    result = run_call(call(code, csv), POLICY, files, sessions)
    assert result["exit_code"] == 0, logs(result)
    assert logs(result) == "60\n"
    [image] = images(result)
    assert files.files[image][1].startswith(b"\x89PNG\r\n\x1a\n")
    # The input itself does not come back; the file the code wrote does, under its link.
    assert result["files"] == {"sandbox:/mnt/data/doubled.csv": "file-1"}
    assert files.files["file-1"] == ("doubled.csv", CSV)
    assert files.files[image][0] == "figure-1.png"
    links = sandbox_files(sessions.client, sessions.keys, "p", "thread_1")
    assert links == {"sandbox:/mnt/data/sales.csv": csv, "sandbox:/mnt/data/doubled.csv": "file-1"}


def test_variables_and_files_persist_and_replayed_output_is_not_shown_again(sessions: SessionStore) -> None:
    files = MemoryFiles()
    first = run_call(call("x = 21\nopen('note.txt', 'w').write('kept')\nprint('first')"), POLICY, files, sessions)
    assert logs(first) == "first\n"
    second = run_call(call("print(x * 2, open('note.txt').read())"), POLICY, files, sessions)
    assert logs(second) == "42 kept\n"
    # Only what the new cell changed comes back: note.txt was written by the replay, not by this cell.
    assert "files" not in second
    # A last expression is shown, as in a notebook.
    assert logs(run_call(call("x + 1"), POLICY, files, sessions)) == "22\n"
    # Another thread has a session of its own.
    other = run_call(call("print(x)", thread="thread_2"), POLICY, files, sessions)
    assert "NameError: name 'x' is not defined" in logs(other) and other["exit_code"] == 1


def test_a_failed_cell_stays_in_the_session_with_its_partial_effects(sessions: SessionStore) -> None:
    files = MemoryFiles()
    failed = run_call(call("y = 5\nraise ValueError('boom')"), POLICY, files, sessions)
    assert failed["exit_code"] == 1
    assert logs(failed).startswith("Traceback (most recent call last):\n") and "ValueError: boom" in logs(failed)
    assert "runner" not in logs(failed)  # the runner's own frames are trimmed
    assert logs(run_call(call("print(y)"), POLICY, files, sessions)) == "5\n"


def test_an_input_seeds_once_and_again_when_replaced(sessions: SessionStore) -> None:
    files = MemoryFiles()
    old = files.add("data.txt", b"old")
    run_call(call("print(open('data.txt').read())", old), POLICY, files, sessions)
    # The cell changed its copy; the same input is not seeded over it again.
    run_call(call("open('data.txt', 'w').write('changed')", old), POLICY, files, sessions)
    assert logs(run_call(call("print(open('data.txt').read())", old), POLICY, files, sessions)) == "changed\n"
    new = files.add("data.txt", b"new")
    assert logs(run_call(call("print(open('data.txt').read())", new), POLICY, files, sessions)) == "new\n"


def test_a_session_past_its_cell_cap_starts_afresh_and_says_so(sessions: SessionStore) -> None:
    files = MemoryFiles()
    capped = replace(POLICY, max_cells=2)
    run_call(call("a = 1"), capped, files, sessions)
    assert logs(run_call(call("print(a)"), capped, files, sessions)) == "1\n"
    reset = run_call(call("print('a' in globals())"), capped, files, sessions)
    assert logs(reset) == f"{RESET_NOTE}\nFalse\n"
    assert len(sessions.load("p", "thread_1").cells) == 1


def test_a_replay_over_its_budget_starts_afresh(sessions: SessionStore) -> None:
    files = MemoryFiles()
    run_call(call("import time\ntime.sleep(1.5)\nz = 1"), POLICY, files, sessions)
    result = run_call(call("print('z' in globals())"), replace(POLICY, replay_s=0.5), files, sessions)
    assert logs(result) == f"{RESET_NOTE}\nFalse\n"
    assert [cell.code for cell in sessions.load("p", "thread_1").cells] == ["print('z' in globals())"]


def test_a_cell_out_of_time_is_not_replayed_and_its_files_still_come_back(sessions: SessionStore) -> None:
    files = MemoryFiles()
    quick = replace(POLICY, limits=SandboxLimits(timeout_s=1, cpu_s=2))
    result = run_call(call("open('partial.txt', 'w').write('p')\nwhile True: pass"), quick, files, sessions)
    assert "Execution timed out after 1s" in logs(result)
    assert result["files"] == {"sandbox:/mnt/data/partial.txt": "file-0"}
    assert sessions.load("p", "thread_1").cells == []


def test_files_past_the_limits_are_named_not_returned(sessions: SessionStore) -> None:
    files = MemoryFiles()
    code = "for i in range(25):\n    open(f'f{i:02}.txt', 'w').write(str(i))"
    result = run_call(call(code), POLICY, files, sessions)
    assert len(result["files"]) == 20
    assert "[not returned, over the limit of 20 files" in logs(result) and "f24.txt" in logs(result)


def test_an_input_deleted_since_is_left_out_of_the_replay(sessions: SessionStore) -> None:
    files = MemoryFiles()
    doomed = files.add("gone.txt", b"bye")
    run_call(call("print(open('gone.txt').read())", doomed), POLICY, files, sessions)
    del files.files[doomed]
    result = run_call(call("import os\nprint(os.path.exists('gone.txt'))"), POLICY, files, sessions)
    assert logs(result) == "False\n"


def test_the_session_expires_after_its_idle_time(sessions: SessionStore) -> None:
    run_call(call("v = 1"), POLICY, MemoryFiles(), sessions)
    ttl = sessions.client.ttl(Keys("t").code_cells("p", "thread_1"))
    assert 0 < ttl <= 60


def test_the_job_and_return_channel_open_no_way_out(sessions: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_MODEL_API_KEY", "sk-session-secret")
    code = (
        "import os, socket\n"
        "print('secret' in str(os.environ))\n"
        "try:\n"
        "    open('/sandbox/job', 'ab')\n"
        "except OSError as exc:\n"
        "    print('job', type(exc).__name__)\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 6379), timeout=2)\n"
        "except OSError as exc:\n"
        "    print('redis', type(exc).__name__)\n"
    )
    assert (
        logs(run_call(call(code), POLICY, MemoryFiles(), sessions))
        == "False\njob PermissionError\nredis ConnectionRefusedError\n"
    )


def test_garbage_written_to_the_return_channel_costs_only_the_files(sessions: SessionStore) -> None:
    # The channel's fd number is on the runner's command line: the code can find it and write over it.
    code = (
        "import os\n"
        "open('x.txt', 'w').write('x')\n"
        "fd = int(open('/proc/self/cmdline').read().split(chr(0))[-2])\n"
        "os.write(fd, b'garbage' * 10)\n"
        "print('ran')"
    )
    result = run_call(call(code), POLICY, MemoryFiles(), sessions)
    assert logs(result) == "ran\n" and result["exit_code"] == 0
    assert "files" not in result
