"""deploy/grafana: the dashboard JSON, its queries' metric names, and its provisioning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import COMPOSE_FILE, DEPLOY, known_metric_names, load_yaml, metric_names, run_promtool

GRAFANA = DEPLOY / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "orchestrator.json"


@pytest.fixture(scope="module")
def dashboard() -> Any:
    return json.loads(DASHBOARD_FILE.read_text())


def _panels(dashboard: Any) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows left out."""
    result: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            result.extend(panel.get("panels", []))
        else:
            result.append(panel)
    return result


def _exprs(dashboard: Any) -> list[str]:
    return [target["expr"] for panel in _panels(dashboard) for target in panel["targets"]]


def _datasource_uid() -> str:
    (datasource,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    uid: str = datasource["uid"]
    return uid


def test_dashboard_is_a_grafana_dashboard(dashboard: Any) -> None:
    assert dashboard["uid"] == "orchestrator"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_every_panel_has_targets(dashboard: Any) -> None:
    for panel in _panels(dashboard):
        assert panel["targets"], f"panel {panel['title']!r} has no targets"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["expr"].strip()


def test_every_datasource_is_the_provisioned_one(dashboard: Any) -> None:
    uid = _datasource_uid()
    assert "${DS_" not in DASHBOARD_FILE.read_text()
    assert "__inputs" not in dashboard
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}


def test_every_metric_exists_in_orchestrator_metrics(dashboard: Any) -> None:
    known = known_metric_names() | {"up"}
    for expr in _exprs(dashboard):
        used = metric_names(expr)
        assert used, f"no metric in {expr!r}"
        assert used <= known, f"unknown {sorted(used - known)} in {expr!r}"


def test_every_query_is_valid_promql(dashboard: Any, tmp_path: Path) -> None:
    """promtool parses each query, as a recording rule, with Grafana's $__rate_interval replaced by a duration."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, expr in enumerate(_exprs(dashboard))
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "metric",
    [
        "orchestrator_runs_finished_total",
        "orchestrator_queue_depth",
        "orchestrator_run_queue_wait_seconds_bucket",
        "orchestrator_run_time_to_first_token_seconds_bucket",
        "orchestrator_run_duration_seconds_bucket",
        "orchestrator_tool_call_duration_seconds_bucket",
        "orchestrator_tokens_total",
        "orchestrator_sse_streams_open",
        "orchestrator_workers_alive",
    ],
)
def test_the_dashboard_shows(dashboard: Any, metric: str) -> None:
    assert any(metric in metric_names(expr) for expr in _exprs(dashboard))


def test_queue_wait_has_p50_p95_p99(dashboard: Any) -> None:
    quantiles = set()
    for expr in _exprs(dashboard):
        match = re.match(r"histogram_quantile\(([\d.]+), .*orchestrator_run_queue_wait_seconds_bucket", expr)
        if match:
            quantiles.add(float(match.group(1)))
    assert quantiles >= {0.5, 0.95, 0.99}


def test_the_error_rate_is_failed_over_finished_runs(dashboard: Any) -> None:
    panel = next(p for p in _panels(dashboard) if p["title"] == "Error rate")
    assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert any('status="failed"' in target["expr"] for target in panel["targets"])


def test_provisioning_loads_the_dashboard_mounted_by_compose() -> None:
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "orchestrator.yml")["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
