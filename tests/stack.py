"""`Stack`: `orchestrator up` as a subprocess, for tests that need every real process (Celery workers included)."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    process: subprocess.Popen[str]
    base_url: str
    api_key: str
    data_dir: Path
    output: list[str]

    @property
    def redis_url(self) -> str:
        return (self.data_dir / "redis_url").read_text().strip()

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


@contextmanager
def running_stack(tmp: Path, *args: str, env: dict[str, str] | None = None, ready_s: float = 90) -> Iterator[Stack]:
    port = free_port()
    data_dir = tmp / "data"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    child_env.update({"ORCH_API_KEYS": "sk-test-a=project-a,sk-test-b=project-b", "ORCH_LOG_JSON": "true"})
    child_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "up", "--port", str(port), "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env, cwd=tmp,
    )
    assert process.stdout is not None
    output: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + ready_s
    while not any("api_key:" in line for line in output):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError("orchestrator up did not become ready:\n" + "".join(output[-50:]))
        if selector.select(timeout=1.0):
            output.append(process.stdout.readline())
    stack = Stack(process=process, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test-a", data_dir=data_dir,
                  output=output)
    try:
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            selector.close()
            process.stdout.close()
