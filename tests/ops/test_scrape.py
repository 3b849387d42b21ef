"""Reading /metrics pages and the scrape targets' setting."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from orchestrator import metrics
from orchestrator.ops import scrape
from orchestrator.ops.window import CREATED, DURATION_BUCKETS, FINISHED, TTFT_BUCKETS, WANTED


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("orchestrator_runs_created", "", registry=registry).inc(3)
    finished = Counter("orchestrator_runs_finished", "", ["status"], registry=registry)
    finished.labels(status="completed").inc(2)
    finished.labels(status="failed").inc()
    Histogram("orchestrator_run_time_to_first_token_seconds", "", buckets=(0.1, 1), registry=registry).observe(0.5)
    Counter("orchestrator_http_requests", "", ["route"], registry=registry).labels(route="/v1/x").inc(7)
    return registry


def test_a_page_is_parsed_down_to_the_wanted_series() -> None:
    counts = scrape.parse(generate_latest(_registry()).decode())
    assert counts == {
        (CREATED, ()): 3.0,
        (FINISHED, (("status", "completed"),)): 2.0,
        (FINISHED, (("status", "failed"),)): 1.0,
        (TTFT_BUCKETS, (("le", "0.1"),)): 0.0,
        (TTFT_BUCKETS, (("le", "1.0"),)): 1.0,
        (TTFT_BUCKETS, (("le", "+Inf"),)): 1.0,
    }


def test_the_registry_reads_as_its_page_does() -> None:
    registry = _registry()
    assert scrape.from_registry(registry) == scrape.parse(generate_latest(registry).decode())


def test_every_wanted_series_is_one_the_service_exports() -> None:
    exported = scrape.parse(generate_latest(metrics.registry()).decode())
    assert {name for name, _ in exported} == set(WANTED)
    assert {labels for name, labels in exported if name == DURATION_BUCKETS} >= {
        (("le", "+Inf"), ("status", "completed"))
    }


def test_a_list_of_targets(tmp_path: Path) -> None:
    assert scrape.Targets(" 127.0.0.1:9101, api:8000 ,").current() == ["127.0.0.1:9101", "api:8000"]
    assert scrape.Targets(None).current() == []
    assert scrape.Targets("").current() == []


def test_a_file_sd_file_is_read_again_when_it_changes_and_a_missing_one_names_none(tmp_path: Path) -> None:
    path = tmp_path / "scrape_targets.json"
    targets = scrape.Targets(str(path))
    assert targets.current() == []
    path.write_text(json.dumps([{"targets": ["127.0.0.1:1"], "labels": {"job": "api"}}]))
    assert targets.current() == ["127.0.0.1:1"]
    groups = [
        {"targets": ["127.0.0.1:1"], "labels": {"job": "api"}},
        {"targets": ["127.0.0.1:2", "127.0.0.1:3"], "labels": {"job": "worker-runs"}},
    ]
    path.write_text(json.dumps(groups))
    os.utime(path, ns=(1, 1))  # a new modification time even on a coarse clock
    assert targets.current() == ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
    path.write_text("{not json")
    assert targets.current() == []
    path.unlink()
    assert targets.current() == []
