"""Real OpenAI-compatible servers between the executor and the mock model, started once per session.

    openai SDK -> orchestrator up -> LiteLLM proxy -> recorder -> mock model

A second, smaller set runs against aimock (`aimock_stack`): openai SDK -> orchestrator up -> aimock (fixtures).

The mock model (`orchestrator mock-model`, steered by `[[...]]` directives) is the scripted backend; the recorder
keeps what LiteLLM forwarded to it; the stack is a real `orchestrator up` whose ORCH_MODEL_BASE_URL is the proxy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import openai
import pytest

from tests.stack import KEY_A, Stack, free_port, running_stack
from tests.upstreams.aimock_server import aimock_server
from tests.upstreams.litellm_proxy import LiteLLM, litellm_proxy
from tests.upstreams.processes import served
from tests.upstreams.recorder import Recorder, recording_proxy


@pytest.fixture(scope="package")
def mock_model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built-in mock model as its own process; its base URL ends in /v1."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("mock-model") / "mock.log"
    command = [sys.executable, "-m", "orchestrator", "mock-model", "--port", str(port)]
    with served("the mock model", command, ready_url=f"http://127.0.0.1:{port}/healthz", log_path=log_path):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="package")
def recorder(mock_model_url: str) -> Iterator[Recorder]:
    with recording_proxy(mock_model_url.removesuffix("/v1")) as running:
        yield running


@pytest.fixture(scope="package")
def litellm(recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLM]:
    with litellm_proxy(f"{recorder.base_url}/v1", tmp_path_factory.mktemp("litellm")) as proxy:
        yield proxy


@pytest.fixture(scope="package")
def litellm_stack(litellm: LiteLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_MODEL_BASE_URL": litellm.base_url, "ORCH_MODEL_API_KEY": litellm.api_key}
    with running_stack(tmp_path_factory.mktemp("litellm-stack"), env=env) as running:
        yield running


@pytest.fixture(scope="package")
def litellm_client(litellm_stack: Stack) -> Iterator[openai.OpenAI]:
    with litellm_stack.client(KEY_A) as sdk:
        yield sdk


@pytest.fixture(scope="package")
def aimock_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose model endpoint is aimock, answering from tests/upstreams/aimock/fixtures."""
    with aimock_server(tmp_path_factory.mktemp("aimock")) as base_url:
        env = {"ORCH_MODEL_BASE_URL": base_url, "ORCH_MODEL_API_KEY": "sk-aimock"}
        with running_stack(tmp_path_factory.mktemp("aimock-stack"), env=env) as running:
            yield running


@pytest.fixture(scope="package")
def aimock_client(aimock_stack: Stack) -> Iterator[openai.OpenAI]:
    with aimock_stack.client(KEY_A) as sdk:
        yield sdk
