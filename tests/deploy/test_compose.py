"""compose.yaml: valid against the Compose Specification schema, and consistent with the CLI, the image and Prometheus.

tests/deploy/compose-spec.json is the Compose Specification JSON schema exactly as the `docker-compose` 1.29.2 wheel
ships it (compose/config/compose_spec.json, Apache-2.0); its SHA-256 below matches that wheel's RECORD entry.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from tests.deploy.helpers import COMPOSE_FILE, METRICS_PORTS, PROMETHEUS_DIR, REPO, assert_cli_accepts, load_yaml

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"

INFRA_SERVICES = {"redis", "prometheus", "grafana"}
EXPECTED_COMMANDS = {
    "api": ["api", "--host", "0.0.0.0", "--port", "8000"],
    "worker-runs": ["worker", "--pool", "runs"],
    "worker-code-interpreter": ["worker", "--pool", "code_interpreter"],
    "worker-file-search": ["worker", "--pool", "file_search"],
    "sweeper": ["sweeper"],
    "mock-model": ["mock-model", "--host", "0.0.0.0", "--port", "8001"],
}
APP_SERVICES = set(EXPECTED_COMMANDS)
SCALABLE_SERVICES = {"worker-runs", "worker-code-interpreter", "worker-file-search"}


@pytest.fixture(scope="module")
def compose() -> Any:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: Any) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


@pytest.fixture(scope="module")
def validator() -> Draft201909Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def _errors(validator: Draft201909Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_the_vendored_schema_is_the_published_file() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_matches_the_compose_specification(compose: Any, validator: Draft201909Validator) -> None:
    assert _errors(validator, compose) == []


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("api", "bogus_key", 1),
        ("api", "healthcheck", {"test": ["CMD", "true"], "every": "5s"}),
        ("worker-runs", "depends_on", {"redis": {"condition": "when_it_feels_like_it"}}),
        ("worker-runs", "deploy", {"replicas": "four"}),
    ],
)
def test_the_schema_rejects_a_broken_service(
    compose: Any, validator: Draft201909Validator, service: str, key: str, value: Any
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"][service][key] = value
    assert _errors(validator, broken)


def test_the_whole_stack_is_defined(services: dict[str, Any]) -> None:
    assert set(services) == APP_SERVICES | INFRA_SERVICES


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_run_the_one_image(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert service["image"] == services["api"]["image"]
    assert "entrypoint" not in service, "the image's entrypoint is `orchestrator`; the command picks the role"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_commands_are_real_cli_invocations(services: dict[str, Any], name: str) -> None:
    command = services[name]["command"]
    assert command == EXPECTED_COMMANDS[name]
    assert_cli_accepts(command)


@pytest.mark.parametrize("name", sorted(SCALABLE_SERVICES))
def test_workers_can_be_scaled(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert "container_name" not in service
    assert "ports" not in service, "a fixed host port would clash between replicas of `--scale`"
    assert "scale" not in service
    assert int(service["environment"]["ORCH_METRICS_PORT"]) == METRICS_PORTS[name]


@pytest.mark.parametrize("name", sorted(APP_SERVICES | INFRA_SERVICES))
def test_every_service_has_a_healthcheck(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)


def test_dependencies_wait_for_healthy_services(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in services[target]
            assert "profiles" not in services[target], f"{name} would need profile-only {target}"


def test_secrets_reach_only_the_services_that_use_them(services: dict[str, Any]) -> None:
    holders = {
        variable: {name for name, s in services.items() if variable in s.get("environment", {})}
        for variable in ("ORCH_API_KEYS", "ORCH_MODEL_API_KEY", "ORCH_MODEL_BASE_URL")
    }
    assert holders == {
        "ORCH_API_KEYS": {"api"},
        "ORCH_MODEL_API_KEY": {"worker-runs"},
        "ORCH_MODEL_BASE_URL": {"worker-runs"},
    }
    for name in APP_SERVICES - {"mock-model"}:
        assert services[name]["environment"]["ORCH_REDIS_URL"] == "redis://redis:6379/0"


def test_redis_persists_to_a_named_volume(compose: Any, services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert redis["image"] == "redis:7"
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, target = redis["volumes"][0].split(":")[:2]
    assert target == "/data"
    assert volume in compose["volumes"]


def test_the_mock_model_is_only_in_the_mock_profile(services: dict[str, Any]) -> None:
    assert services["mock-model"]["profiles"] == ["mock"]
    assert [name for name, s in services.items() if "profiles" in s] == ["mock-model"]


def test_bind_mounts_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_every_app_service_on_its_metrics_port(services: dict[str, Any]) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    discovered: dict[str, int] = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            assert sd["type"] == "A", "type A returns every replica's address"
            for name in sd["names"]:
                discovered[name] = sd["port"]
    assert discovered == METRICS_PORTS
    for name, port in METRICS_PORTS.items():
        env = services[name]["environment"]
        if name != "api":
            assert int(env["ORCH_METRICS_PORT"]) == port
    assert services["api"]["command"][-1] == str(METRICS_PORTS["api"])


SECCOMP_PROFILE = REPO / "deploy" / "seccomp" / "code-interpreter.json"
#: What bubblewrap calls to build the sandbox; Docker's default profile refuses most of them without CAP_SYS_ADMIN.
SANDBOX_SYSCALLS = {"clone", "clone3", "unshare", "mount", "umount2", "pivot_root", "chroot", "prctl", "setns"}
#: Kernel surfaces neither the worker nor user code needs, which the shipped profile must keep closed.
MUST_DENY = {
    "bpf",
    "keyctl",
    "ptrace",
    "kexec_load",
    "init_module",
    "userfaultfd",
    "io_uring_setup",
    "open_by_handle_at",
}


def test_only_the_code_interpreter_pool_relaxes_container_confinement(services: dict[str, Any]) -> None:
    relaxed = {name for name, service in services.items() if "security_opt" in service}
    assert relaxed == {"worker-code-interpreter"}
    service = services["worker-code-interpreter"]
    assert service["security_opt"] == [
        "seccomp=./deploy/seccomp/code-interpreter.json",
        "apparmor=unconfined",
        "systempaths=unconfined",
    ]
    assert (REPO / service["security_opt"][0].split("=", 1)[1]).is_file()
    for escalation in ("privileged", "cap_add", "user", "pid", "network_mode"):
        assert escalation not in service, escalation
    # The pool gets no secret (test_secrets_reach_only_the_services_that_use_them) and keeps the image's uid 10001.


def test_the_seccomp_profile_lets_bubblewrap_build_the_sandbox_and_denies_the_rest() -> None:
    profile = json.loads(SECCOMP_PROFILE.read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    assert "SCMP_ARCH_X86_64" in profile["architectures"]
    assert "SCMP_ARCH_AARCH64" in profile["architectures"]
    denied: set[str] = set()
    for rule in profile["syscalls"]:
        # Deny-only rules without argument filters: nothing here can narrow what bubblewrap calls by its flags.
        assert rule["action"] == "SCMP_ACT_ERRNO"
        assert rule["errnoRet"] == 1
        assert "args" not in rule
        assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", name) for name in rule["names"])
        denied |= set(rule["names"])
    assert not denied & SANDBOX_SYSCALLS
    assert denied >= MUST_DENY


def test_api_and_pools_share_the_files_volume(compose: Any, services: dict[str, Any]) -> None:
    """Uploaded files written by the API are read by the pools: one named volume at ORCH_FILES_DIR in each."""
    assert "files" in compose["volumes"]
    for name in ("api", "worker-runs", "worker-code-interpreter", "worker-file-search"):
        service = services[name]
        assert f"files:{service['environment']['ORCH_FILES_DIR']}" in service["volumes"], name
