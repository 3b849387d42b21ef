"""What users install is what runs: the wheel alone, in a fresh venv, starts every process kind.

This is the Dockerfile's path (`pip install .`, no dev extras). A runtime import that only a dev dependency
satisfies (kombu's Redis transport needing `packaging`, say) fails here rather than in a deployed image.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from orchestrator.playground.routes import CONTENT_TYPES
from tests.stack import REPO_ROOT, free_port

# Building the wheel and installing its dependencies into a new venv takes a minute or two on a fresh machine.
pytestmark = [pytest.mark.install, pytest.mark.timeout(600)]

KEY = "sk-install-test"
STARTUP_S = 120.0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project's wheel and its runtime dependencies only."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(root / "dist"),
            str(REPO_ROOT),
        ],
        check=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("orchestrator-*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    # A PYTHONPATH naming a source tree (a worktree's, with the egg-info the wheel build left there) would make pip
    # see the project as installed already and skip it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(wheel)], check=True, cwd=root, env=env)
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "freeze"], check=True, capture_output=True, text=True, env=env
    ).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert not names & {"pytest", "fakeredis", "mypy"}, "dev dependencies leaked into a plain install"
    return root / "venv"


def _lines(pipe: object, out: queue.Queue[str | None]) -> None:
    assert hasattr(pipe, "readline")
    for raw in iter(pipe.readline, b""):
        out.put(raw.decode(errors="replace").rstrip("\n"))
    out.put(None)


@pytest.fixture(scope="module")
def stack_from_wheel(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`orchestrator up` from the installed console script, run outside the source tree."""
    workdir = tmp_path_factory.mktemp("up")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_") and k != "PYTHONPATH"}
    env.update({"ORCH_API_KEYS": f"{KEY}=install", "ORCH_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    log = (workdir / "stack.log").open("wb")
    process = subprocess.Popen(
        [installed / "bin" / "orchestrator", "up", "--port", str(port), "--data-dir", str(workdir / "data")],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        cwd=workdir,
        start_new_session=True,
    )
    out: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, out), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_S
    try:
        while True:
            try:
                line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                pytest.fail(
                    f"the installed stack did not come up\n{seen}\n{(workdir / 'stack.log').read_text()[-4000:]}"
                )
            seen.append(line)
            if line.strip().startswith("api_key:"):
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_every_process_kind_starts_from_the_wheel(stack_from_wheel: str) -> None:
    # /readyz is 200 only when every pool (runs, code_interpreter, file_search) has a live worker heartbeat.
    ready = httpx.get(f"{stack_from_wheel}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["missing_pools"] == []


def test_a_code_interpreter_run_completes_on_the_installed_stack(stack_from_wheel: str) -> None:
    client = openai.OpenAI(base_url=f"{stack_from_wheel}/v1", api_key=KEY, max_retries=0, timeout=30)
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 3x + 11 = 14"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    kinds = [
        call.type
        for step in steps.data
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
    ]
    assert "code_interpreter" in kinds


def test_the_playground_page_and_its_assets_ship_in_the_wheel(stack_from_wheel: str) -> None:
    """The wheel's package data (pyproject's `static/*`, `static/**/*`) holds every asset the source tree has."""
    static = REPO_ROOT / "orchestrator" / "playground" / "static"
    shipped = [p.relative_to(static) for p in static.rglob("*") if p.is_file() and p.suffix in CONTENT_TYPES]
    assert Path("index.html") in shipped
    page = httpx.get(f"{stack_from_wheel}/playground", timeout=5)
    assert page.status_code == 200, page.text
    assert page.content == (static / "index.html").read_bytes()
    for relative in shipped:
        asset = httpx.get(f"{stack_from_wheel}/playground/static/{relative.as_posix()}", timeout=5)
        assert asset.status_code == 200, relative
