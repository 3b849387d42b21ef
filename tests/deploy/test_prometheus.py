"""deploy/prometheus: promtool checks the configs and rules and runs the rules' unit tests; names are cross-checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import PROMETHEUS_DIR, known_metric_names, load_yaml, metric_names, run_promtool

REQUIRED_ALERTS = {
    "OrchestratorQueueBacklogGrowing",
    "OrchestratorRunFailureRateHigh",
    "OrchestratorPoolHasNoWorkers",
    "OrchestratorRunsExpired",
}
APP_JOBS = {
    "orchestrator-api",
    "orchestrator-worker-runs",
    "orchestrator-worker-code-interpreter",
    "orchestrator-worker-file-search",
    "orchestrator-sweeper",
}


def _rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"] for rule in group["rules"]]


def _assert_ok(result: Any) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def test_promtool_checks_the_compose_config() -> None:
    _assert_ok(run_promtool("check", "config", "prometheus.yml"))


def test_promtool_checks_the_kubernetes_config(tmp_path: Path) -> None:
    result = run_promtool("check", "config", "prometheus-k8s.yml")
    if result.returncode != 0 and "kubernetes_sd_configs not found" in result.stdout + result.stderr:
        # Debian's prometheus is built without Kubernetes discovery: check the rest of the config (relabelling,
        # rule files) with the discovery swapped for a static target.
        config = load_yaml(PROMETHEUS_DIR / "prometheus-k8s.yml")
        for job in config["scrape_configs"]:
            assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
            job["static_configs"] = [{"targets": ["10.0.0.1:9101"]}]
        (tmp_path / "prometheus-k8s.yml").write_text(yaml.safe_dump(config))
        (tmp_path / "alerts.yml").write_text((PROMETHEUS_DIR / "alerts.yml").read_text())
        result = run_promtool("check", "config", str(tmp_path / "prometheus-k8s.yml"))
    _assert_ok(result)


def test_promtool_checks_the_rules() -> None:
    _assert_ok(run_promtool("check", "rules", "alerts.yml"))


def test_promtool_runs_the_rule_unit_tests() -> None:
    result = run_promtool("test", "rules", "alerts_test.yml")
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_the_required_alerts_exist() -> None:
    assert {rule["alert"] for rule in _rules()} >= REQUIRED_ALERTS


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases: dict[str, list[bool]] = {}
    for test in load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    for rule in _rules():
        outcomes = cases.get(rule["alert"], [])
        assert True in outcomes, f"{rule['alert']} is never tested firing"
        assert False in outcomes, f"{rule['alert']} is never tested not firing"
    assert set(cases) == {rule["alert"] for rule in _rules()}


def test_alerts_have_a_severity_and_a_summary() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_alert_expressions_use_only_metrics_the_code_exposes() -> None:
    known = known_metric_names() | {"up"}
    for rule in _rules():
        used = metric_names(rule["expr"])
        assert used, f"{rule['alert']}: no metric in {rule['expr']!r}"
        assert used <= known, f"{rule['alert']}: unknown {sorted(used - known)}"


def test_the_alerts_cover_the_metrics_they_are_about() -> None:
    by_alert = {rule["alert"]: rule["expr"] for rule in _rules()}
    assert "orchestrator_queue_depth" in metric_names(by_alert["OrchestratorQueueBacklogGrowing"])
    assert 'status="failed"' in by_alert["OrchestratorRunFailureRateHigh"]
    assert "by (pool)" in by_alert["OrchestratorPoolHasNoWorkers"]
    assert 'status="expired"' in by_alert["OrchestratorRunsExpired"]


@pytest.mark.parametrize("config_file", ["prometheus.yml", "prometheus-k8s.yml"])
def test_both_configs_load_the_alert_rules(config_file: str) -> None:
    assert load_yaml(PROMETHEUS_DIR / config_file)["rule_files"] == ["alerts.yml"]


def test_the_compose_config_has_one_job_per_process_kind() -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]}
    assert jobs == APP_JOBS | {"prometheus"}


def test_the_kubernetes_config_names_jobs_like_the_compose_one() -> None:
    (job,) = load_yaml(PROMETHEUS_DIR / "prometheus-k8s.yml")["scrape_configs"]
    relabel = next(r for r in job["relabel_configs"] if r.get("target_label") == "job")
    assert relabel["source_labels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
    assert relabel["replacement"] == "orchestrator-$1"
