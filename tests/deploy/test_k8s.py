"""deploy/k8s: Kubernetes schemas (kubernetes-validate), KEDA's CRD fields by hand, and cross-checks with the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from orchestrator.settings import Settings
from tests.deploy.helpers import EXPECTED_QUEUES, K8S_DIR, METRICS_PORTS, assert_cli_accepts, load_yaml, load_yaml_all
from workers.celery_app import POOLS

#: The oldest Kubernetes the manifests support, and the newest schema kubernetes-validate ships.
KUBE_VERSIONS = ("1.28", kubernetes_validate.latest_version())
CRD_GROUPS = ("keda.sh/",)
KUSTOMIZE_DIRS = [K8S_DIR, K8S_DIR / "keda", K8S_DIR / "hpa"]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.rglob("*.yaml") if p.name != "kustomization.yaml")


def _docs() -> list[tuple[str, dict[str, Any]]]:
    return [(str(path.relative_to(K8S_DIR)), doc) for path in _manifest_files() for doc in load_yaml_all(path)]


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _docs() if doc["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def _pool_of(deployment: dict[str, Any]) -> str | None:
    args = _container(deployment)["args"]
    return str(args[args.index("--pool") + 1]) if args[0] == "worker" else None


def _is_crd(doc: dict[str, Any]) -> bool:
    return str(doc["apiVersion"]).startswith(CRD_GROUPS)


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize(
    ("source", "doc"),
    [
        pytest.param(source, doc, id=f"{source}:{doc['kind']}/{doc['metadata']['name']}")
        for source, doc in _docs()
        if not _is_crd(doc)
    ],
)
def test_manifest_matches_the_kubernetes_schema(source: str, doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        pytest.fail(f"{source} {doc['kind']}/{doc['metadata']['name']} at {path}: {error.message}")


def test_every_object_lives_in_the_orchestrator_namespace() -> None:
    for source, doc in _docs():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "orchestrator", source


@pytest.mark.parametrize("folder", KUSTOMIZE_DIRS, ids=lambda p: str(p.relative_to(K8S_DIR)) or ".")
def test_kustomizations_list_exactly_their_folder(folder: Path) -> None:
    kustomization = load_yaml(folder / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "orchestrator"
    present = {p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert set(kustomization["resources"]) == present


def test_the_core_kustomization_has_the_whole_stack() -> None:
    resources = set(load_yaml(K8S_DIR / "kustomization.yaml")["resources"])
    assert {"namespace.yaml", "configmap.yaml", "secret.yaml", "api.yaml", "sweeper.yaml"} <= resources
    assert not any("/" in r for r in resources), "KEDA and HPA are applied separately, as alternatives"


def test_one_deployment_per_pool_plus_api_and_sweeper() -> None:
    deployments = _of_kind("Deployment")
    pools = sorted(p for p in map(_pool_of, deployments.values()) if p)
    assert pools == sorted(POOLS)
    assert set(deployments) == set(METRICS_PORTS)
    assert deployments["sweeper"]["spec"]["replicas"] == 1
    assert deployments["sweeper"]["spec"]["strategy"]["type"] == "Recreate"


@pytest.mark.parametrize("name", sorted(METRICS_PORTS))
def test_container_args_are_real_cli_invocations(name: str) -> None:
    container = _container(_of_kind("Deployment")[name])
    assert "command" not in container, "keep the image's `orchestrator` entrypoint"
    assert_cli_accepts(container["args"])


def test_api_probes_and_service() -> None:
    api = _container(_of_kind("Deployment")["api"])
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["ports"] == [{"name": "http", "containerPort": METRICS_PORTS["api"]}]
    service = _of_kind("Service")["api"]
    assert service["spec"]["selector"] == _of_kind("Deployment")["api"]["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("name", sorted(set(METRICS_PORTS) - {"api"}))
def test_workers_serve_metrics_and_are_probed_there(name: str) -> None:
    container = _container(_of_kind("Deployment")[name])
    port = METRICS_PORTS[name]
    assert _env(container)["ORCH_METRICS_PORT"] == str(port)
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


@pytest.mark.parametrize("name", sorted(METRICS_PORTS))
def test_pods_carry_prometheus_scrape_annotations(name: str) -> None:
    deployment = _of_kind("Deployment")[name]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(METRICS_PORTS[name])
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == name, "prometheus-k8s.yml names the job after this label"


_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _quantity(value: str | int | float) -> float:
    match = _QUANTITY.match(str(value))
    assert match, f"not a Kubernetes quantity: {value!r}"
    return float(match.group(1)) * _FACTORS[match.group(2)]


def test_every_container_has_requests_within_limits() -> None:
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in _of_kind(kind).items():
            for container in workload["spec"]["template"]["spec"]["containers"]:
                requests, limits = container["resources"]["requests"], container["resources"]["limits"]
                for resource in ("cpu", "memory"):
                    assert _quantity(requests[resource]) <= _quantity(limits[resource]), f"{name} {resource}"


def test_settings_and_secrets_are_wired() -> None:
    config = _of_kind("ConfigMap")["orchestrator-config"]["data"]
    fields = {f"ORCH_{field.upper()}" for field in Settings.model_fields}
    assert set(config) <= fields, f"not settings: {set(config) - fields}"
    secret = _of_kind("Secret")["orchestrator-secrets"]["stringData"]
    assert set(secret) == {"ORCH_API_KEYS", "ORCH_MODEL_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert set(secret) & set(config) == set()
    for name, deployment in _of_kind("Deployment").items():
        container = _container(deployment)
        assert container["envFrom"] == [{"configMapRef": {"name": "orchestrator-config"}}]
        for value in _env(container).values():
            if isinstance(value, dict):
                ref = value["secretKeyRef"]
                assert ref["name"] == "orchestrator-secrets", name
                assert ref["key"] in secret, name
    assert "ORCH_API_KEYS" in _env(_container(_of_kind("Deployment")["api"]))
    assert "ORCH_MODEL_API_KEY" in _env(_container(_of_kind("Deployment")["worker-runs"]))


def test_every_process_that_reads_files_reaches_the_bucket() -> None:
    config = _of_kind("ConfigMap")["orchestrator-config"]["data"]
    assert config["ORCH_FILES_BACKEND"] == "s3" and config["ORCH_S3_BUCKET"]
    for name in ("api", "worker-runs", "worker-code-interpreter", "worker-file-search"):
        env = _env(_container(_of_kind("Deployment")[name]))
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key]["secretKeyRef"]["key"] == key, name


# --- KEDA (a CRD: no schema in kubernetes-validate, so its required fields are checked here) -------------------


def _scaled_objects() -> dict[str, dict[str, Any]]:
    return _of_kind("ScaledObject")


@pytest.mark.parametrize("name", sorted(_scaled_objects()))
def test_scaled_object_has_the_required_fields(name: str) -> None:
    scaled = _scaled_objects()[name]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] in _of_kind("Deployment")
    assert spec.get("scaleTargetRef", {}).get("kind", "Deployment") == "Deployment"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert spec["triggers"]
    for trigger in spec["triggers"]:
        assert trigger["type"] in {"redis", "cpu"}
        metadata = trigger["metadata"]
        assert all(isinstance(v, str) for v in metadata.values()), "KEDA trigger metadata values are strings"
        if trigger["type"] == "redis":
            assert {"address", "listName", "listLength"} <= set(metadata)
            assert int(metadata["listLength"]) > 0
        else:
            assert trigger["metricType"] == "Utilization"
            assert 0 < int(metadata["value"]) <= 100


def test_keda_scales_each_pool_on_its_celery_queue() -> None:
    deployments = _of_kind("Deployment")
    scaled_lists = {}
    for scaled in _scaled_objects().values():
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "redis":
                scaled_lists[scaled["spec"]["scaleTargetRef"]["name"]] = trigger["metadata"]["listName"]
    expected = {}
    for name, deployment in deployments.items():
        pool = _pool_of(deployment)
        if pool:
            assert POOLS[pool][0] == EXPECTED_QUEUES[pool]
            expected[name] = POOLS[pool][0]
    assert scaled_lists == expected
    assert set(scaled_lists.values()) == {"runs", "tools.code_interpreter", "tools.file_search"}


def test_keda_reads_the_redis_the_stack_uses() -> None:
    config = _of_kind("ConfigMap")["orchestrator-config"]["data"]
    url = urlsplit(config["ORCH_REDIS_URL"])
    for scaled in _scaled_objects().values():
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "redis":
                assert trigger["metadata"]["address"] == f"{url.hostname}:{url.port}"
                assert trigger["metadata"]["databaseIndex"] == url.path.lstrip("/")
    redis_service = _of_kind("Service")["redis"]
    assert url.hostname == f"{redis_service['metadata']['name']}.orchestrator.svc.cluster.local"


def test_hpas_scale_existing_deployments_on_cpu() -> None:
    hpas = _of_kind("HorizontalPodAutoscaler")
    assert set(hpas) == set(METRICS_PORTS) - {"sweeper"}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ((metric),) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"


def test_keda_and_hpa_target_the_same_deployments() -> None:
    keda = {s["spec"]["scaleTargetRef"]["name"] for s in _scaled_objects().values()}
    assert keda == set(_of_kind("HorizontalPodAutoscaler"))


def test_only_the_code_interpreter_pod_can_build_its_sandbox() -> None:
    deployments = _of_kind("Deployment")
    pod = deployments["worker-code-interpreter"]["spec"]["template"]
    container = _container(deployments["worker-code-interpreter"])
    # An own user namespace (which procMount: Unmasked requires), so the node sees only unprivileged uids.
    assert pod["spec"]["hostUsers"] is False
    assert container["securityContext"]["procMount"] == "Unmasked"
    seccomp = pod["spec"]["securityContext"]["seccompProfile"]
    assert seccomp == {"type": "Localhost", "localhostProfile": "orchestrator/code-interpreter.json"}
    assert (K8S_DIR.parent / "seccomp" / Path(seccomp["localhostProfile"]).name).is_file()
    apparmor = pod["metadata"]["annotations"]["container.apparmor.security.beta.kubernetes.io/worker"]
    assert apparmor == "unconfined"
    # Everything else stays as tight as the other pools.
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in container["securityContext"]
    for name, other in deployments.items():
        if name != "worker-code-interpreter":
            assert "hostUsers" not in other["spec"]["template"]["spec"], name
            assert "procMount" not in _container(other).get("securityContext", {}), name
