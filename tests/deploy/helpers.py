"""Shared by the deployment tests: file loading, the real CLI's subcommands and options, PromQL metric names."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import orchestrator.metrics  # noqa: F401  (registers every metric in the default registry)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "compose.yaml"
PROMETHEUS_DIR = DEPLOY / "prometheus"
K8S_DIR = DEPLOY / "k8s"

#: Compose service -> the worker pool it runs (None: not a pool), and the metrics port each process serves on.
METRICS_PORTS = {
    "api": 8000,
    "worker-runs": 9101,
    "worker-code-interpreter": 9102,
    "worker-file-search": 9103,
    "sweeper": 9104,
}
#: Worker pool -> Celery queue (also the Redis list the queue's waiting messages are kept in).
EXPECTED_QUEUES = {"runs": "runs", "code_interpreter": "tools.code_interpreter", "file_search": "tools.file_search"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- the real CLI ----------------------------------------------------------------------------------------------


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("orchestrator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestrator"]


@functools.cache
def cli_help(*subcommand: str) -> str:
    result = subprocess.run(
        [*_cli(), *subcommand, "--help"], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert result.returncode == 0, f"orchestrator {' '.join(subcommand)} --help failed:\n{result.stderr}"
    return result.stdout


def cli_subcommands() -> set[str]:
    """The subcommands `orchestrator --help` lists, e.g. {up,api,worker,sweeper,mock-model}."""
    match = re.search(r"\{([a-z0-9,-]+)\}", cli_help())
    assert match, f"no subcommand list in `orchestrator --help`:\n{cli_help()}"
    return set(match.group(1).split(","))


def assert_cli_accepts(argv: list[str]) -> None:
    """Fail unless `orchestrator ARGV` names a real subcommand and only options (and choices) it declares."""
    assert argv, "empty command"
    subcommand, *rest = argv
    assert subcommand in cli_subcommands(), f"{subcommand!r} is not a subcommand of orchestrator ({cli_subcommands()})"
    text = cli_help(subcommand)
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    choices = {opt: set(values.split(",")) for opt, values in re.findall(r"(--[a-z][a-z0-9-]*) \{([^}]+)\}", text)}
    for i, token in enumerate(rest):
        if not token.startswith("--"):
            continue
        option = token.split("=", 1)[0]
        assert option in options, f"`orchestrator {subcommand}` has no option {option} (has {sorted(options)})"
        if option in choices:
            value = token.split("=", 1)[1] if "=" in token else rest[i + 1]
            assert value in choices[option], f"{option} {value!r} is not one of {sorted(choices[option])}"


# --- promtool ----------------------------------------------------------------------------------------------------


def promtool() -> str:
    """The promtool binary; missing, the test fails under CI (CI installs it) and is skipped elsewhere."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: CI must install it (Debian package `prometheus`)")
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, check=False, cwd=PROMETHEUS_DIR
    )


# --- PromQL metric names -----------------------------------------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_NUMBER_WORDS = {"inf", "nan"}


def known_metric_names() -> set[str]:
    """Every series name orchestrator/metrics.py exposes: counters as `_total`, histograms as `_bucket/_sum/_count`."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("orchestrator_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (identifiers that are not functions, keywords or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables such as $__rate_interval
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text):
        word = match.group(1)
        if word.lower() in _KEYWORDS | _NUMBER_WORDS:
            continue
        names.add(word)
    return names
