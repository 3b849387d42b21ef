"""Redis stopped under a real `orchestrator up` stack: the API answers 503 in OpenAI's envelope within a bounded
time (the SDK sees a retryable server error, not a hang or a plain-text 500), and serves again once Redis is back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.stack import KEY_A, Stack, running_stack, wait_until

pytestmark = pytest.mark.integration

REDIS_TIMEOUT_S = 1.0
HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ORCH_REDIS_TIMEOUT_S": str(REDIS_TIMEOUT_S)}
    with running_stack(tmp_path_factory.mktemp("outage"), env=env) as running:
        yield running


def _list(stack: Stack) -> httpx.Response:
    return httpx.get(f"{stack.base_url}/assistants", headers=HEADERS, timeout=60)


def test_a_stopped_redis_is_a_503_in_the_envelope_then_service_resumes(stack: Stack) -> None:
    client = stack.client(max_retries=0)
    assistant = client.beta.assistants.create(model="mock", name="before the outage")
    server = stack.children()["redis"]["pid"]
    os.kill(server, signal.SIGSTOP)  # connections hang: no answer and no error, the worst case for a client
    try:
        started = time.monotonic()
        response = _list(stack)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json() == {
            "error": {
                "message": response.json()["error"]["message"],
                "type": "server_error",
                "param": None,
                "code": "service_unavailable",
            }
        }
        assert response.headers["retry-after"] == "1"
        # About two client timeouts (an attempt and one retry) per Redis call; far from the SDK's 600 s.
        assert elapsed < 15 * REDIS_TIMEOUT_S, elapsed
        with pytest.raises(openai.InternalServerError) as error:
            client.beta.assistants.create(model="mock")
        assert error.value.status_code == 503
    finally:
        os.kill(server, signal.SIGCONT)

    def served() -> httpx.Response | None:
        response = _list(stack)
        return response if response.status_code == 200 else None

    back = wait_until(served, "the API to serve again")
    assert [a["id"] for a in back.json()["data"]] == [assistant.id]
