"""Resumable event streams (`GET /v1/threads/{thread_id}/runs/{run_id}/events`) on a real stack: any run, streamed
or not, followed from its start or resumed after an event id, by many clients at once, always exactly the run's event
log (compared by event id with the log in Redis) with no gap and no duplicate."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import openai
import pytest
import redis
from openai.types.beta import Assistant
from openai.types.beta.threads import Run

from orchestrator.bus.redis_bus import decode_entries
from orchestrator.store import Keys
from tests.e2e.helpers import function_tool, make_assistant, poll_until, wait_for_status
from tests.stack import KEY_A, KEY_B, PROJECT_A, Stack
from tests.support import PLAIN_TEXT_ORDER, collapse

pytestmark = pytest.mark.e2e

TERMINAL = {"thread.run.completed", "thread.run.incomplete", "thread.run.failed", "thread.run.cancelled"}
SLOW_TEXT = "[[slow 0.1]] [[long 25]]"  # 25 deltas 0.1 s apart: a run that lasts a few seconds


@dataclass(frozen=True)
class Followed:
    """What one follower received: (id, event) pairs, and whether the stream ended with `event: done`."""

    events: list[tuple[str, str]]
    done: bool

    @property
    def ids(self) -> list[str]:
        return [event_id for event_id, _ in self.events]

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.events]


def follow(
    stack: Stack,
    run: Run,
    *,
    after: str | None = None,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    api_key: str = KEY_A,
) -> Followed:
    """Read the run's event stream as an SSE client does (comment lines ignored, an event per blank line)."""
    headers = {"Authorization": f"Bearer {api_key}", "OpenAI-Beta": "assistants=v2"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    params = {"after": after} if after is not None else {}
    url = f"{stack.base_url}/threads/{run.thread_id}/runs/{run.id}/events"
    events: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    with httpx.stream("GET", url, headers=headers, params=params, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if fields.get("event") == "done":
                return Followed(events, done=True)
            events.append((fields["id"], fields["event"]))
            fields = {}
            if stop_after is not None and len(events) == stop_after:
                return Followed(events, done=False)
    return Followed(events, done=False)


def event_log(stack: Stack, run: Run) -> list[tuple[str, str]]:
    """The run's event log as stored: the reference every follower must equal."""
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        key = Keys(stack.key_prefix).events(PROJECT_A, run.thread_id, run.id)
        return [(entry.id, entry.event) for entry in decode_entries(client.xrange(key))]
    finally:
        client.close()


@pytest.fixture(scope="module")
def assistant(client: openai.OpenAI) -> Assistant:
    return make_assistant(client, function_tool("lookup"), name="e2e-events")


def _start(client: openai.OpenAI, assistant: Assistant, content: str) -> Run:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": content}])
    return client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)


def test_a_polled_run_is_followed_from_its_start(stack: Stack, client: openai.OpenAI, assistant: Assistant) -> None:
    run = _start(client, assistant, SLOW_TEXT)  # created without `stream`
    followed = follow(stack, run)
    assert followed.done and followed.names[-1] == "thread.run.completed"
    assert collapse(followed.names) == PLAIN_TEXT_ORDER
    assert followed.events == event_log(stack, run)
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status == "completed"


def test_resuming_after_any_event_is_exactly_the_rest_of_the_log(
    stack: Stack, client: openai.OpenAI, assistant: Assistant
) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text a short answer]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    logged = event_log(stack, run)
    assert logged[-1][1] == "thread.run.completed"
    for index, (event_id, _) in enumerate(logged[:-1]):
        assert follow(stack, run, after=event_id).events == logged[index + 1 :]
    # The header an EventSource sends on reconnecting takes precedence over the URL's `after`.
    assert follow(stack, run, after=logged[0][0], last_event_id=logged[-2][0]).events == logged[-1:]


def test_followers_of_one_live_run_all_get_the_whole_log(
    stack: Stack, client: openai.OpenAI, assistant: Assistant
) -> None:
    """Three followers from the start, one that connects mid-run from the start, one that resumes mid-run after
    an event, and one that drops its connection and reconnects with `Last-Event-ID`: none misses or repeats one."""
    run = _start(client, assistant, SLOW_TEXT)
    with ThreadPoolExecutor(max_workers=7) as pool:
        early = [pool.submit(follow, stack, run) for _ in range(3)]
        dropped = pool.submit(follow, stack, run, stop_after=6).result(timeout=30)
        assert not dropped.done and len(dropped.ids) == 6
        # The run is still going (its deltas are 0.1 s apart): connect to it now.
        seen = poll_until(lambda: event_log(stack, run), lambda log: len(log) >= 10, timeout_s=20, what="10 events")
        assert seen[-1][1] not in TERMINAL, "the run ended before the mid-run followers connected"
        late = pool.submit(follow, stack, run)
        resumed = pool.submit(follow, stack, run, after=seen[4][0])
        reconnected = pool.submit(follow, stack, run, last_event_id=dropped.ids[-1])
        results = [future.result(timeout=60) for future in (*early, late, resumed, reconnected)]
    logged = event_log(stack, run)
    assert logged[-1][1] == "thread.run.completed"
    for followed in results[:4]:
        assert followed.done and followed.events == logged
    assert results[4].events == logged[5:]
    assert dropped.events + results[5].events == logged


def test_a_follower_goes_on_through_requires_action(stack: Stack, client: openai.OpenAI, assistant: Assistant) -> None:
    """Unlike the SDK stream, which ends at `requires_action`, a follower wants the whole run."""
    run = _start(client, assistant, '[[call lookup {"q": "x"}]]')
    results: list[Followed] = []
    follower = threading.Thread(target=lambda: results.append(follow(stack, run)))
    follower.start()
    waiting = wait_for_status(client, run, {"requires_action"})
    assert waiting.required_action is not None
    call = waiting.required_action.submit_tool_outputs.tool_calls[0]
    client.beta.threads.runs.submit_tool_outputs(
        run_id=run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": call.id, "output": "found"}]
    )
    follower.join(timeout=30)
    assert not follower.is_alive() and results
    names = results[0].names
    resumed = names[names.index("thread.run.requires_action") + 1 :]
    assert collapse(resumed)[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert names[-1] == "thread.run.completed" and results[0].done
    assert results[0].events == event_log(stack, run)


def test_another_project_cannot_follow_a_run(stack: Stack, client: openai.OpenAI, assistant: Assistant) -> None:
    run = _start(client, assistant, "[[text private]]")
    url = f"{stack.base_url}/threads/{run.thread_id}/runs/{run.id}/events"
    response = httpx.get(url, headers={"Authorization": f"Bearer {KEY_B}", "OpenAI-Beta": "assistants=v2"})
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("No run found")
