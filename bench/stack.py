"""A real `orchestrator up` stack as a subprocess on loopback, for the benchmarks (which must not import tests/)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY_A, PROJECT_A = "sk-e2e-key-a", "proj_e2e_a"  # tests/stack.py adds a second project


@dataclass(frozen=True)
class Timeouts:
    """How long a stack may take to come up (its `api_key:` line) and to exit after SIGTERM."""

    start_s: float
    stop_s: float


TEST_TIMEOUTS = Timeouts(start_s=90.0, stop_s=10.0)
# The benchmarks' stacks: how fast a stack starts and stops is the tests' to check. A benchmark on a loaded machine
# (an embedded cluster took over 90 s to be ready there) should not lose its figures to it.
BENCH_TIMEOUTS = Timeouts(start_s=240.0, stop_s=60.0)


class StackError(RuntimeError):
    """The stack did not start or stop as it should."""


@dataclass
class Stack:
    """One running `orchestrator up` process and how to reach it."""

    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    key_prefix: str = "orch"
    stdout: list[str] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return (self.data_dir / "redis_url").read_text().strip()

    def client(self, api_key: str = KEY_A, **kwargs: object) -> openai.OpenAI:
        options: dict[str, object] = {"max_retries": 2, "timeout": 30.0, **kwargs}
        return openai.OpenAI(base_url=self.base_url, api_key=api_key, **options)  # type: ignore[arg-type]

    def scrape_targets(self) -> dict[str, list[str]]:
        groups = json.loads((self.data_dir / "scrape_targets.json").read_text())
        return {group["labels"]["job"]: group["targets"] for group in groups}

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a sample over every process of the stack."""
        total = 0.0
        for hosts in self.scrape_targets().values():
            for host in hosts:
                text = httpx.get(f"http://{host}/metrics", timeout=5).text
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                            total += sample.value
        return total

    def children(self) -> dict[str, dict[str, Any]]:
        """name -> {"role", "pid", "restarts"} of every child `orchestrator up` supervises (its children.json)."""
        state = json.loads((self.data_dir / "children.json").read_text())
        return {child["name"]: child for child in state["children"]}

    def restarts(self, role: str) -> float:
        """orchestrator_child_restarts_total{role}, read from the supervisor's own /metrics only (a child being
        restarted may not answer)."""
        (host,) = self.scrape_targets()["supervisor"]
        text = httpx.get(f"http://{host}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "orchestrator_child_restarts_total" and sample.labels.get("role") == role:
                    return sample.value
        raise AssertionError(f"the supervisor exports no restart counter for role {role!r}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "stack.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join([*self.stdout, "--- stderr ---", *text.splitlines()[-lines:]])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _drain(pipe: Any, lines: queue.Queue[str | None]) -> None:
    for raw in iter(pipe.readline, b""):
        lines.put(raw.decode(errors="replace").rstrip("\n"))
    lines.put(None)


@contextlib.contextmanager
def running_stack(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    redis_url: str | None = None,
    args: tuple[str, ...] = (),
    api_keys: str = f"{KEY_A}={PROJECT_A}",
    prefix: str = "bench",
    timeouts: Timeouts = TEST_TIMEOUTS,
) -> Iterator[Stack]:
    """Start `orchestrator up` on 127.0.0.1, wait (with a deadline) for its `api_key:` line, stop it with SIGTERM.

    Raises `StackError` when it does not come up, announces another key than the first of `api_keys`, does not stop
    within the `timeouts` of SIGTERM, or exits with an error."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in ("ORCH_MODEL_BASE_URL", "ORCH_REDIS_URL")}
    full_env.update(
        {
            "ORCH_API_KEYS": api_keys,
            "ORCH_KEY_PREFIX": f"{prefix}-{uuid.uuid4().hex[:12]}",
            "ORCH_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    command = [sys.executable, "-m", "orchestrator", "up", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    if redis_url is not None:
        command += ["--redis-url", redis_url]
    command += args
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "stack.log").open("wb") as log:
        # A session of its own, so that a stack that ignores SIGTERM can be killed with all its children.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, env=full_env, cwd=REPO_ROOT, start_new_session=True
        )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    stack = Stack(base_url="", process=process, data_dir=data_dir, key_prefix=full_env["ORCH_KEY_PREFIX"])
    try:
        announced = _wait_until_up(stack, lines, timeouts.start_s)
        expected = api_keys.split(",")[0].partition("=")[0]
        if announced != expected:
            raise StackError(f"the stack announced key {announced!r}, not the first ORCH_API_KEYS entry")
        yield stack
    finally:
        _stop(stack, timeouts.stop_s)


def _wait_until_up(stack: Stack, lines: queue.Queue[str | None], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StackError(f"`orchestrator up` was not up within {timeout_s}s\n{stack.log_tail()}")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise StackError(f"`orchestrator up` exited (rc={stack.process.poll()})\n{stack.log_tail()}")
        stack.stdout.append(line)
        key, _, value = line.strip().partition(":")
        if key == "base_url":
            stack.base_url = value.strip()
        elif key == "api_key":
            if not stack.base_url:
                raise StackError("the api_key line came before the base_url line")
            return value.strip()


def _stop(stack: Stack, timeout_s: float) -> None:
    process = stack.process
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise StackError(f"`orchestrator up` did not exit within {timeout_s}s of SIGTERM\n{stack.log_tail()}") from None
    if process.returncode != 0:
        raise StackError(f"`orchestrator up` exited with {process.returncode}\n{stack.log_tail()}")
