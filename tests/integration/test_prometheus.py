"""The real Prometheus server (Debian's package) scrapes every process of a running stack and answers a PromQL
query about run throughput."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.embedded import free_port
from tests.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("prometheus is not installed here; CI installs it")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: orchestrator\n    file_sd_configs:\n"
        f"      - files: ['{stack.data_dir / 'scrape_targets.json'}']\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _ready(url), "prometheus did not become ready")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _until(check: object, message: str, timeout_s: float = 60) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.25)  # polling an external server with a deadline


def _query(url: str, promql: str) -> float:
    body = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert body["status"] == "success", body
    return sum(float(series["value"][1]) for series in body["data"]["result"])


def test_prometheus_reports_run_throughput(stack: Stack, prometheus: str) -> None:
    _until(
        lambda: _query(prometheus, 'count(up{job=~"api|worker-runs|sweeper"} == 1)') >= 4,
        "prometheus does not see the stack's processes up",
    )
    client = stack.client(max_retries=0)
    assistant = client.beta.assistants.create(model="mock")
    for _ in range(8):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
        )
        assert run.status == "completed"
    _until(
        lambda: _query(prometheus, "sum(rate(orchestrator_runs_finished_total[1m]))") > 0,
        "rate(orchestrator_runs_finished_total[1m]) stayed at zero",
    )
    _until(
        lambda: _query(prometheus, 'sum(orchestrator_runs_finished_total{status="completed"})') >= 8,
        "prometheus never saw the eight completed runs",
    )
    assert _query(prometheus, "sum(orchestrator_workers_alive)") >= 4
