"""The LiteLLM proxy as a test upstream: a config that routes our model names to a local backend, and no network."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import yaml

from tests.stack import free_port
from tests.upstreams.processes import served

MASTER_KEY = "sk-litellm-upstream-tests"
#: The model names the tests give their assistants; each one is routed to the backend under the same name.
MODELS = ("gpt-4o", "gpt-4-turbo", "mock")
#: No telemetry, no cost-map download, no `.env` loading, no admin UI: the proxy must start and run offline.
OFFLINE_ENV = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_MODE": "PRODUCTION",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
READY_TIMEOUT_S = 90.0  # the first start on a fresh machine compiles a large package


@dataclass(frozen=True)
class LiteLLM:
    base_url: str  # ends in /v1, as ORCH_MODEL_BASE_URL wants it
    api_key: str
    version: str
    log_path: Path


def config(backend_url: str) -> dict[str, object]:
    """A proxy config: every model in MODELS is `openai/<name>` at `backend_url`, no database, no callbacks."""
    return {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {"model": f"openai/{name}", "api_base": backend_url, "api_key": "sk-backend"},
            }
            for name in MODELS
        ],
        # No retries inside the proxy: a backend failure should reach the executor as the proxy first saw it.
        "router_settings": {"num_retries": 0},
        "litellm_settings": {"telemetry": False, "num_retries": 0, "request_timeout": 60},
        "general_settings": {"master_key": MASTER_KEY},
    }


@contextlib.contextmanager
def litellm_proxy(backend_url: str, workdir: Path) -> Iterator[LiteLLM]:
    """Run `litellm --config` on a free port in front of `backend_url` until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "litellm.yaml"
    config_path.write_text(yaml.safe_dump(config(backend_url)))
    port = free_port()
    # The console script of the venv running the tests, so CI uses what the dev extra installed.
    executable = Path(sys.executable).with_name("litellm")
    command = [str(executable), "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port)]
    log_path = workdir / "litellm.log"
    with served(
        "the LiteLLM proxy",
        command,
        ready_url=f"http://127.0.0.1:{port}/health/readiness",
        log_path=log_path,
        env=OFFLINE_ENV,
        cwd=workdir,  # nothing to pick up from the repository's working directory
        ready_timeout_s=READY_TIMEOUT_S,
    ):
        yield LiteLLM(f"http://127.0.0.1:{port}/v1", MASTER_KEY, version("litellm"), log_path)
