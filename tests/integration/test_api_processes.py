"""`orchestrator api --workers N`: several API processes behind one port share one /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orchestrator.embedded import free_port
from tests.support import unique_prefix

pytestmark = pytest.mark.integration


def test_api_processes_aggregate_their_metrics(real_redis: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCH_", "PROMETHEUS_"))}
    env.update(
        {
            "ORCH_REDIS_URL": real_redis,
            "ORCH_KEY_PREFIX": unique_prefix(),
            "ORCH_LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "api", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API processes did not start"
            time.sleep(0.1)  # polling a starting server with a deadline
        for _ in range(20):
            with httpx.Client() as fresh:  # a new connection each time, so both processes take requests
                assert fresh.get(f"{base}/healthz").status_code == 200
        text = httpx.get(f"{base}/metrics").text
        line = next(
            line
            for line in text.splitlines()
            if line.startswith('orchestrator_http_requests_total{method="GET",route="/healthz",status="200"}')
        )
        assert float(line.split()[-1]) >= 21
        assert len(list(tmp_path.glob("counter_*.db"))) >= 2, "expected one metrics file per API process"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
