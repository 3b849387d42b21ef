"""The broker and state alternatives: RabbitMQ and a Redis Cluster, as compose overlays and kustomize overlays.

Compose files are merged here the way `docker compose -f a -f b` merges mappings (no Compose engine runs on the test
machines) and validated against the Compose Specification; the kustomize overlays are built with `kubectl kustomize`
and every object validated against the Kubernetes schemas, like the core manifests (test_k8s.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft201909Validator

from orchestrator.broker import is_amqp
from orchestrator.settings import Settings
from tests.deploy.helpers import COMPOSE_FILE, DEPLOY, REPO, load_yaml

COMPOSE_RABBITMQ = DEPLOY / "compose.rabbitmq.yaml"
COMPOSE_CLUSTER = DEPLOY / "compose.redis-cluster.yaml"
OVERLAYS = DEPLOY / "k8s-overlays"
#: The app services that send or take tasks and read the state (the mock model does neither).
APP_SERVICES = {"api", "worker-runs", "worker-code-interpreter", "worker-file-search", "sweeper"}
SETTINGS_ENV = {f"ORCH_{name.upper()}" for name in Settings.model_fields}
CLUSTER_NODES = 6


def merged(*files: Path) -> dict[str, Any]:
    """`docker compose -f ... -f ...`: later files' mappings merged into earlier ones, other values replaced."""

    def merge(base: Any, override: Any) -> Any:
        if isinstance(base, dict) and isinstance(override, dict):
            return {k: merge(base[k], v) if k in base else v for k, v in override.items()} | {
                k: v for k, v in base.items() if k not in override
            }
        return override

    result: dict[str, Any] = {}
    for path in files:
        result = merge(result, load_yaml(path))
    return result


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` as its default and `${VAR:?message}` (required) as a sample value."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-by-the-operator", value)


@pytest.fixture(scope="module")
def compose_validator() -> Draft201909Validator:
    return Draft201909Validator(json.loads((Path(__file__).with_name("compose-spec.json")).read_text()))


COMBINATIONS = {
    "rabbitmq": (COMPOSE_FILE, COMPOSE_RABBITMQ),
    "redis-cluster": (COMPOSE_FILE, COMPOSE_CLUSTER),
    "redis-cluster+rabbitmq": (COMPOSE_FILE, COMPOSE_CLUSTER, COMPOSE_RABBITMQ),
}


@pytest.mark.parametrize("files", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_compose_combinations_match_the_specification(
    files: tuple[Path, ...], compose_validator: Draft201909Validator
) -> None:
    for document in (load_yaml(files[-1]), merged(*files)):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_validator.iter_errors(document)
        ]
        assert errors == []


@pytest.mark.parametrize("files", COMBINATIONS.values(), ids=COMBINATIONS.keys())
def test_compose_combinations_wire_every_app_service(files: tuple[Path, ...]) -> None:
    compose = merged(*files)
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert {key for key in env if key.startswith("ORCH_")} <= SETTINGS_ENV, name
        assert env["ORCH_LOG_LEVEL"] and env["ORCH_FILES_DIR"], name  # the base file's settings survive the merge
        for target, condition in services[name]["depends_on"].items():
            assert target in services, f"{name} depends on unknown {target}"
            expected = "service_completed_successfully" if target == "redis-cluster-init" else "service_healthy"
            assert condition == {"condition": expected}, (name, target)
            if expected == "service_healthy":
                assert "healthcheck" in services[target]
        broker = interpolate(env.get("ORCH_BROKER_URL", env["ORCH_REDIS_URL"]))
        if COMPOSE_RABBITMQ in files:  # the RabbitMQ file, given last, decides the broker
            assert urlsplit(broker).scheme == "amqp" and urlsplit(broker).hostname == "rabbitmq"
            assert "rabbitmq" in services[name]["depends_on"]
        if COMPOSE_CLUSTER in files:
            assert env["ORCH_REDIS_CLUSTER"] == "true"
            assert urlsplit(env["ORCH_REDIS_URL"]).hostname in services
            assert "redis-cluster-init" in services[name]["depends_on"]
        if COMPOSE_CLUSTER in files and COMPOSE_RABBITMQ not in files:
            # Celery cannot use a cluster: the broker stays a plain Redis.
            assert broker.endswith("redis://redis:6379/0")
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in compose["volumes"], f"{name}: undeclared volume {source}"


def test_compose_rabbitmq_service_persists_and_is_checked() -> None:
    rabbitmq = load_yaml(COMPOSE_RABBITMQ)["services"]["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:")
    # The node name, and with it the data directory, follows the hostname: it must be fixed.
    assert rabbitmq["hostname"] == "rabbitmq"
    assert [v.split(":")[1] for v in rabbitmq["volumes"]] == ["/var/lib/rabbitmq"]
    assert rabbitmq["healthcheck"]["test"][:2] == ["CMD", "rabbitmq-diagnostics"]
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_VHOST"] == "orchestrator"
    assert "ports" not in rabbitmq, "the broker is reached on the compose network only"


def test_compose_redis_cluster_has_six_persistent_nodes_and_a_create_job() -> None:
    services = load_yaml(COMPOSE_CLUSTER)["services"]
    nodes = {name: s for name, s in services.items() if name.startswith("redis-node-")}
    assert len(nodes) == CLUSTER_NODES
    for name, node in nodes.items():
        command = node["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert command[command.index("--cluster-announce-hostname") + 1] == name == node["hostname"]
        assert command[command.index("--appendonly") + 1] == "yes"
        assert node["volumes"][0].split(":")[1] == "/data"
    init = services["redis-cluster-init"]
    assert init["restart"] == "no"
    assert set(init["depends_on"]) == set(nodes)
    script = init["command"][0]
    assert "--cluster create" in script and "--cluster-replicas 1" in script and "--cluster-yes" in script
    assert f"for n in {' '.join(str(n) for n in range(1, CLUSTER_NODES + 1))}" in script
    assert "$$" in script, "the shell's variables escaped from compose's interpolation"


# --- kustomize overlays ------------------------------------------------------------------------------------------


def _kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is missing: CI must install it (it builds the kustomize overlays)")
        pytest.skip("kubectl is not installed: the kustomize overlays cannot be built")
    return path


def build(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [_kubectl(), "kustomize", str(OVERLAYS / overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(p.name for p in OVERLAYS.iterdir()))
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, build(request.param)


def _named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def test_overlays_are_the_three_combinations() -> None:
    assert sorted(p.name for p in OVERLAYS.iterdir()) == ["rabbitmq", "redis-cluster", "redis-cluster-rabbitmq"]


def test_overlay_objects_match_the_kubernetes_schema(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = overlay
    for doc in docs:
        if str(doc["apiVersion"]).startswith("keda.sh/"):
            continue
        assert doc["metadata"].get("namespace", "orchestrator") == "orchestrator"
        try:
            kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {error.message}")


def test_overlay_settings_exist_and_point_where_they_should(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = overlay
    config = _named(docs, "ConfigMap")["orchestrator-config"]["data"]
    assert set(config) <= SETTINGS_ENV, set(config) - SETTINGS_ENV
    services = _named(docs, "Service")
    deployments = _named(docs, "Deployment")
    for deployment_name, deployment in deployments.items():
        broker = _env(deployment).get("ORCH_BROKER_URL")
        if "rabbitmq" in name:
            assert broker == {"secretKeyRef": {"name": "rabbitmq", "key": "ORCH_BROKER_URL"}}, deployment_name
        else:
            assert broker is None, deployment_name
    if "redis-cluster" in name:
        assert config["ORCH_REDIS_CLUSTER"] == "true"
        seed = urlsplit(config["ORCH_REDIS_URL"])
        pod, service = seed.hostname.split(".")[:2] if seed.hostname else ("", "")
        assert service in services and services[service]["spec"]["clusterIP"] == "None"
        assert pod.rsplit("-", 1)[0] in _named(docs, "StatefulSet")
        assert seed.path == "/0", "a cluster has db 0 only"
        # Celery on the plain Redis of redis.yaml (or RabbitMQ, from the Secret, which wins over the ConfigMap).
        assert urlsplit(config["ORCH_BROKER_URL"]).hostname == "redis.orchestrator.svc.cluster.local"


def test_rabbitmq_component_forms_a_three_node_cluster_the_url_reaches() -> None:
    docs = build("rabbitmq")
    secret = _named(docs, "Secret")["rabbitmq"]["stringData"]
    url = urlsplit(secret["ORCH_BROKER_URL"])
    assert is_amqp(secret["ORCH_BROKER_URL"])
    assert (url.username, url.password) == (secret["RABBITMQ_DEFAULT_USER"], secret["RABBITMQ_DEFAULT_PASS"])
    assert url.hostname == "rabbitmq.orchestrator.svc.cluster.local" and url.port == 5672
    assert url.path == "/orchestrator"
    statefulset = _named(docs, "StatefulSet")["rabbitmq"]
    replicas = statefulset["spec"]["replicas"]
    assert replicas == 3, "a quorum needs three nodes"
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    peers_service = statefulset["spec"]["serviceName"]
    assert _named(docs, "Service")[peers_service]["spec"]["publishNotReadyAddresses"] is True
    conf = _named(docs, "ConfigMap")["rabbitmq-config"]["data"]["rabbitmq.conf"]
    assert "default_vhost = orchestrator" in conf
    for index in range(replicas):
        assert f"rabbit@rabbitmq-{index}.{peers_service}.orchestrator.svc.cluster.local" in conf
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["RABBITMQ_NODENAME"] == f"rabbit@$(POD_NAME).{peers_service}.orchestrator.svc.cluster.local"


def test_redis_cluster_component_creates_the_cluster_from_every_node() -> None:
    docs = build("redis-cluster")
    statefulset = _named(docs, "StatefulSet")["redis-cluster"]
    assert statefulset["spec"]["replicas"] == CLUSTER_NODES
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--cluster-enabled") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    job = _named(docs, "Job")["redis-cluster-create"]
    (create,) = job["spec"]["template"]["spec"]["containers"]
    nodes = next(item["value"] for item in create["env"] if item["name"] == "NODES").split()
    service = statefulset["spec"]["serviceName"]
    assert nodes == [f"redis-cluster-{i}.{service}.orchestrator.svc.cluster.local" for i in range(CLUSTER_NODES)]
    script = create["command"][-1]
    assert "--cluster create" in script and "--cluster-replicas 1" in script


def test_the_documentation_names_every_overlay() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    for path in (COMPOSE_RABBITMQ, COMPOSE_CLUSTER, *sorted(OVERLAYS.iterdir())):
        assert str(path.relative_to(REPO)) in text, path
