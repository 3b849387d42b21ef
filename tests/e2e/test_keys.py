"""Keys and idempotency through the official SDK on a real stack: a key made with `orchestrator keys create`
works, is listed without its secret and stops working once revoked; the SDK's own retry of a create-and-run whose
response was lost, carrying an Idempotency-Key, makes one thread and one run; a streamed create is not replayed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx2
import openai
import pytest
import redis

from tests.e2e.helpers import error_message, make_assistant, poll_until
from tests.stack import REPO_ROOT, Stack

pytestmark = pytest.mark.e2e


def keys_command(stack: Stack, *args: str) -> Any:
    env = {**os.environ, "ORCH_KEY_PREFIX": stack.key_prefix, "ORCH_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "keys", "--redis-url", stack.redis_url, "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture
def new_key(stack: Stack) -> tuple[str, str, str]:
    """(key id, key, project) of a key made by the CLI for a project of its own."""
    project = f"proj_keys_{uuid.uuid4().hex[:8]}"
    created = keys_command(stack, "create", "--project", project)
    return created["id"], created["key"], project


class LosesFirstResponse(httpx2.BaseTransport):
    """Sends every request, but reports the first POST to `path_suffix` as timed out after the server answered:
    a response lost on the way back, which the SDK retries."""

    def __init__(self, path_suffix: str) -> None:
        self._inner = httpx2.HTTPTransport()
        self._suffix = path_suffix
        self.keys_sent: list[str | None] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith(self._suffix):
            self.keys_sent.append(request.headers.get("idempotency-key"))
            if len(self.keys_sent) == 1:
                response.read()
                response.close()
                raise httpx2.ReadTimeout("the response was lost", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def test_a_cli_key_works_is_listed_without_its_secret_and_dies_when_revoked(
    stack: Stack, new_key: tuple[str, str, str]
) -> None:
    key_id, key, project = new_key
    with stack.client(key) as sdk:
        assistant = make_assistant(sdk)
        run = sdk.beta.threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hello"}]}, poll_interval_ms=100
        )
        assert run.status == "completed"
        listed = keys_command(stack, "list", "--project", project)
        assert [(k["id"], k["project"]) for k in listed] == [(key_id, project)]
        assert key not in json.dumps(listed) and listed[0]["hint"] == key[:12] + "…"
        assert keys_command(stack, "revoke", key_id)["id"] == key_id

        def refused() -> bool:
            try:
                sdk.beta.assistants.retrieve(assistant.id)
            except openai.AuthenticationError:
                return True
            return False

        poll_until(refused, bool, timeout_s=10, what="the revoked key being refused")


def test_a_retried_create_and_run_after_a_lost_response_makes_one_run(
    stack: Stack, new_key: tuple[str, str, str]
) -> None:
    _, key, project = new_key
    transport = LosesFirstResponse("/threads/runs")
    with (
        stack.client(key) as setup,
        openai.OpenAI(
            base_url=stack.base_url, api_key=key, max_retries=2, http_client=httpx2.Client(transport=transport)
        ) as sdk,
    ):
        assistant = make_assistant(setup)
        run = sdk.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "Hello"}]},
            extra_headers={"Idempotency-Key": f"create-and-run-{uuid.uuid4()}"},
        )
    assert len(transport.keys_sent) == 2 and transport.keys_sent[0] == transport.keys_sent[1] is not None
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        thread_keys = list(client.scan_iter(match=f"{stack.key_prefix}:p:{project}:*:thread"))
        run_keys = list(client.scan_iter(match=f"{stack.key_prefix}:p:{project}:*:runs"))
        assert len(thread_keys) == 1 and len(run_keys) == 1, (thread_keys, run_keys)
        assert client.zrange(run_keys[0], 0, -1) == [run.id]
    finally:
        client.close()


def test_a_streamed_create_is_not_replayed(stack: Stack, new_key: tuple[str, str, str]) -> None:
    _, key, _ = new_key
    with stack.client(key) as sdk:
        assistant = make_assistant(sdk)
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hello"}])
        headers = {"Idempotency-Key": f"stream-{uuid.uuid4()}"}
        events = list(
            sdk.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True, extra_headers=headers
            )
        )
        assert events[0].event == "thread.run.created" and events[-1].event == "thread.run.completed"
        run_id = events[0].data.id
        with pytest.raises(openai.ConflictError) as conflict:
            sdk.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True, extra_headers=headers
            )
        assert conflict.value.code == "idempotency_key_streamed"
        # The retry is told where the first stream's run can be followed again.
        assert f"/v1/threads/{thread.id}/runs/{run_id}/events" in error_message(conflict.value)
        assert len(sdk.beta.threads.runs.list(thread_id=thread.id).data) == 1
