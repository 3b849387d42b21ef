"""The operations overview on a real stack: `up` points the API at every process's /metrics, so a run finished by a
worker is counted, with its time to first token, beside the live workers of every pool."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from orchestrator.health import HEARTBEAT_INTERVAL_S
from orchestrator.services.dispatch import POOL_QUEUES
from tests.e2e.helpers import make_assistant, poll_until
from tests.stack import KEY_A, Stack

pytestmark = pytest.mark.e2e


def _overview(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.base_url}/ops/overview", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_completed_run_is_counted_with_its_time_to_first_token(stack: Stack, client: openai.OpenAI) -> None:
    # The API has sampled since it started; this request wakes it to a sample every 2 s. Runs of earlier tests may
    # already be in its window, so the run below is looked for in the samples taken after this one.
    first = _overview(stack)
    assert first["sources"]["failed"] == []
    assistant = make_assistant(client, {"type": "code_interpreter"})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 3x + 11 = 14"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error

    body = poll_until(
        lambda: _overview(stack),
        lambda seen: (
            any(point["runs_per_s"] > 0 for point in seen["series"] if point["at"] > first["at"])
            and seen["totals"]["finished"].get("completed", 0) >= 1
            and seen["totals"]["ttft_ms"]["p50"] is not None
        ),
        timeout_s=20,
        what="the overview to count the completed run",
    )
    totals = body["totals"]
    assert totals["ttft_ms"]["p50"] > 0 and totals["duration_ms"]["p99"] >= totals["duration_ms"]["p50"] > 0
    assert totals["runs_per_s"] > 0 and totals["created_per_s"] > 0
    # Every process of the stack is scraped: the API, three worker pools, the sweeper, the supervisor.
    assert body["sources"]["targets"] >= 6 and body["sources"]["failed"] == []
    for pool in POOL_QUEUES:
        assert body["workers"][pool], f"no live worker in {pool}"
        assert all(w["beat_age_s"] <= 2 * HEARTBEAT_INTERVAL_S for w in body["workers"][pool])
    assert set(body["queues"]) == set(POOL_QUEUES.values())
    assert body["series"][0]["at"] <= first["at"] < body["at"]
