"""The benchmark's smoke run (`python -m bench --quick`) completes and writes a table with every row.
No timing assertion: the figures themselves are not checked, only that each was measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import REPO_ROOT

pytestmark = pytest.mark.timeout(660)

ROWS = (
    "streamed runs/s",
    "streamed runs not completed",
    "CPU per run, API + run worker + Redis",
    "CPU per run: API",
    "CPU per run: run worker",
    "CPU per run: Redis",
    "Redis commands per run",
    "Redis bytes in + out per run",
    "polled runs/s",
    "polled runs not completed",
    "create → first text delta p50, sequential",
    "create → first text delta p99, sequential",
    "per-token latency p50",
    "per-token latency p99",
    "deltas/s relayed by one API process",
    "streamed run on a thread of",
    "streams open at once on one API process",
    "runs active at once on one run-worker process",
    "lost events",
    "stream errors",
    "memory per open stream",
    "memory per active run",
    "runs/s with 1 run worker",
)


def test_quick_benchmark_writes_every_row(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = (tmp_path / "benchmarks.md").read_text()
    rows = json.loads((tmp_path / "bench-results.json").read_text())["rows"]
    for name in ROWS:
        assert f"| {name}" in text, f"the table has no row {name!r}"
        (row,) = [r for r in rows if r["figure"].startswith(name)]
        assert row["ours"] is not None, f"{name!r} was not measured"
    lost = [r for r in rows if "not completed" in r["figure"] or r["figure"].startswith(("lost", "stream errors"))]
    assert len(lost) == 4
    assert all(r["ours"] == 0 for r in lost), lost
    plots = {p.name for p in tmp_path.glob("bench-*.png")}
    assert {"bench-concurrency.png", "bench-scaling.png"} <= plots, plots
