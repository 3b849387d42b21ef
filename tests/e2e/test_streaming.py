"""Raw typed streams (`runs.create(stream=True)`) and create-and-run, polled and streamed."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.beta import Assistant

from tests.e2e.helpers import POLL_MS, RecordingHandler, make_assistant, message_text
from tests.stack import KEY_A, Stack, running_stack
from tests.support import PLAIN_TEXT_ORDER, collapse

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(client: openai.OpenAI) -> Assistant:
    return make_assistant(client, name="streaming")


def test_raw_stream_is_in_canonical_order(client: openai.OpenAI, assistant: Assistant) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text Hello there, dear world!]]"}])
    with client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True) as stream:
        events = list(stream)  # iteration ends by itself at `data: [DONE]`
    names = [event.event for event in events]
    assert collapse(names) == PLAIN_TEXT_ORDER
    # The mock sends a piece per word; pieces within ORCH_DELTA_COALESCE_MS of each other share a delta, and the
    # first goes at once. The deltas concatenate to the text, in order (below).
    assert 2 <= names.count("thread.message.delta") <= 4

    created = events[0]
    assert created.event == "thread.run.created"
    assert created.data.status == "queued" and created.data.thread_id == thread.id
    assert created.data.expires_at == created.data.created_at + 600
    in_progress = events[2]
    assert in_progress.event == "thread.run.in_progress" and in_progress.data.started_at is not None

    deltas = [e for e in events if e.event == "thread.message.delta"]
    first_part = deltas[0].data.delta.content[0] if deltas[0].data.delta.content else None
    assert first_part is not None and first_part.type == "text" and first_part.text is not None
    assert first_part.text.annotations == []  # §0.7: the first fragment declares the annotations list
    text = ""
    for delta in deltas:
        for part in delta.data.delta.content or []:
            assert part.index == 0 and part.type == "text" and part.text is not None
            text += part.text.value or ""
    assert text == "Hello there, dear world!"

    message_done = events[-3]
    assert message_done.event == "thread.message.completed"
    assert message_done.data.status == "completed" and message_text(message_done.data) == text
    step_done = events[-2]
    assert step_done.event == "thread.run.step.completed"
    assert step_done.data.usage is not None and step_done.data.status == "completed"
    completed = events[-1]
    assert completed.event == "thread.run.completed"
    assert completed.data.usage is not None and completed.data.expires_at is None
    assert completed.data.completed_at is not None


def test_raw_stream_wire_framing_ends_with_done(stack: Stack, client: openai.OpenAI, assistant: Assistant) -> None:
    """The bytes on the wire: every event has an `event:` line, and the stream ends with `event: done` (§0.1-2)."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text framed]]"}])
    headers = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2", "Accept": "application/json"}
    with httpx.stream(
        "POST",
        f"{stack.base_url}/threads/{thread.id}/runs",
        json={"assistant_id": assistant.id, "stream": True},
        headers=headers,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    # A keep-alive is a comment line with no blank line after it: it can precede any frame.
    body = "\n".join(line for line in body.split("\n") if not line.startswith(":"))
    frames = [frame for frame in body.split("\n\n") if frame]
    # Each event: its id in the run's log (for resuming), its name, its data.
    events = frames[:-1]
    assert all(re.fullmatch(r"id: \d+-\d+\nevent: [a-z._]+\ndata: \{.*\}", frame, re.S) for frame in events)
    ids = [tuple(map(int, frame.split("\n")[0][4:].split("-"))) for frame in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert "\nevent: thread.run.completed\n" in frames[-2]
    assert frames[-1] == "event: done\ndata: [DONE]"
    assert body.endswith("event: done\ndata: [DONE]\n\n")


def test_create_and_run_poll(client: openai.OpenAI, assistant: Assistant) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "[[text polled answer]]"}]},
        poll_interval_ms=POLL_MS,
    )
    assert run.status == "completed"
    assert run.usage is not None
    messages = client.beta.threads.messages.list(thread_id=run.thread_id, order="asc").data
    assert [(m.role, message_text(m)) for m in messages] == [
        ("user", "[[text polled answer]]"),
        ("assistant", "polled answer"),
    ]
    assert messages[1].run_id == run.id


def test_create_and_run_stream_starts_with_thread_created(client: openai.OpenAI, assistant: Assistant) -> None:
    handler = RecordingHandler()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "[[text streamed answer]]"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    first = handler.events[0]
    assert first.event == "thread.created"
    assert first.data.object == "thread"
    assert collapse(handler.event_names[1:]) == PLAIN_TEXT_ORDER
    assert run.status == "completed" and run.thread_id == first.data.id
    assert "".join(handler.text_deltas) == "streamed answer"
    # §10.3.A: the text callbacks, in order.
    assert collapse([name for name in handler.callback_names() if "tool_call" not in name]) == [
        "on_run_step_created",
        "on_message_created",
        "on_text_created",
        "on_text_delta",
        "on_message_delta",
        "on_text_delta",
        "on_message_delta",
        "on_text_done",
        "on_message_done",
        "on_run_step_done",
    ]
    assert client.beta.threads.retrieve(first.data.id).id == first.data.id


def test_long_tool_work_keeps_the_stream_alive(stack: Stack, client: openai.OpenAI) -> None:
    """While code runs for a few seconds the stream stays open with `: keep-alive` comments, then finishes."""
    coder = make_assistant(client, {"type": "code_interpreter"}, name="e2e-keepalive")
    content = "[[code import time\ntime.sleep(2.5)\nprint('slept')]]"
    thread = client.beta.threads.create(messages=[{"role": "user", "content": content}])
    lines: list[str] = []
    with httpx.stream(
        "POST",
        f"{stack.base_url}/threads/{thread.id}/runs",
        headers={"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"},
        json={"assistant_id": coder.id, "stream": True},
        timeout=30,
    ) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line == "data: [DONE]":
                break
    tool_delta = max(i for i, line in enumerate(lines) if line == "event: thread.run.step.delta")
    assert ": keep-alive" in lines[:tool_delta], "no keep-alive while the code ran"
    assert "event: thread.run.completed" in lines
    assert any("slept" in line for line in lines if line.startswith("data: "))


QUIET_S = 60
NODE_SDK = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with the default keep-alive (10 s) whose sandbox lets code run longer than `QUIET_S`."""
    env = {"ORCH_CODE_TIMEOUT_S": str(QUIET_S * 2)}
    with running_stack(tmp_path_factory.mktemp("quiet-stack"), env=env) as running:
        yield running


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_SDK / "node_modules" / "openai").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node or the Node SDK is missing (`make node-deps` runs `npm ci` in tests/e2e/node)")
        pytest.skip("node or the Node SDK is not installed here (`make node-deps`); CI installs them")
    return node


@pytest.mark.timeout(QUIET_S * 4)
def test_python_and_node_sdk_streams_survive_a_tool_silent_for_a_minute(quiet_stack: Stack) -> None:
    """`runs.stream(...)` of both SDKs, at once, on runs whose code sleeps 60 s: every keep-alive is ignored by
    their decoders (no empty event, no JSON error) and resets the client's 30 s read timeout, and both get every
    event and the completed run."""
    node = _node()
    code = f"import time\ntime.sleep({QUIET_S})\nprint('awake')"
    with quiet_stack.client(KEY_A, timeout=30.0, max_retries=0) as client:
        coder = make_assistant(client, {"type": "code_interpreter"}, name="e2e-quiet")
        python_thread, node_thread = (
            client.beta.threads.create(messages=[{"role": "user", "content": f"[[code {code}]]"}]) for _ in range(2)
        )
        started = time.monotonic()
        node_sdk = subprocess.Popen(
            [node, "stream_run.mjs", quiet_stack.base_url, KEY_A, node_thread.id, coder.id],
            cwd=NODE_SDK,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        report = functools.partial(_node_report, client, quiet_stack, node_thread.id)
        try:
            handler = RecordingHandler()
            with client.beta.threads.runs.stream(
                thread_id=python_thread.id, assistant_id=coder.id, event_handler=handler
            ) as stream:
                stream.until_done()
                python_run = stream.get_final_run()
            python_s = time.monotonic() - started
            # Both code calls run at once (the pool runs 4), so the Node stream ends within seconds of the Python one.
            out, err = node_sdk.communicate(timeout=QUIET_S)
        except subprocess.TimeoutExpired:
            node_sdk.kill()
            out, err = node_sdk.communicate()
            pytest.fail(f"the Node SDK's stream did not end {QUIET_S} s after the Python one's\n{report(out, err)}")
        except BaseException:
            # Whatever broke (the Python stream, the test's own time limit), CI shows what the Node side saw.
            node_sdk.kill()
            print(report(*node_sdk.communicate()), file=sys.stderr)
            raise
        assert python_s >= QUIET_S, "the code did not keep the stream quiet for a minute"
        assert node_sdk.returncode == 0, f"the Node SDK's stream failed\n{report(out, err)}"
        seen_by_node = json.loads(out)
        assert seen_by_node["status"] == "completed", report(out, err)

    assert handler.events[-1].event == "thread.run.completed" and python_run.status == "completed"
    assert seen_by_node["events"][-1] == "thread.run.completed"
    # Same run shape, event by event, and no event that either SDK made up.
    assert collapse(seen_by_node["events"]) == collapse(handler.event_names)
    assert "thread.run.step.completed" in handler.event_names
    done = handler.tool_calls_done[0]
    assert done.type == "code_interpreter"
    assert [o.logs.strip() for o in done.code_interpreter.outputs if o.type == "logs"] == ["awake"]
    assert [log.strip() for log in seen_by_node["logs"]] == ["awake"]
    assert "awake" in "".join(handler.text_deltas) and "awake" in seen_by_node["text"]


def _node_report(client: openai.OpenAI, stack: Stack, thread_id: str, out: str, err: str) -> str:
    """What the Node side saw (its progress on stderr, its output) and what the server says of its run: status,
    steps, the events in the run's log, and the stack's log, for a failure that CI shows and nobody can rerun."""
    lines = ["--- the Node SDK's stderr ---", err.rstrip() or "(empty)"]
    lines += ["--- its stdout ---", out.rstrip() or "(empty)"]
    try:
        runs = client.beta.threads.runs.list(thread_id=thread_id).data
        for run in runs:
            lines.append(f"--- run {run.id}: {run.status}, last_error={run.last_error}, expires_at={run.expires_at}")
            for step in client.beta.threads.runs.steps.list(run.id, thread_id=thread_id).data:
                lines.append(f"step {step.id} {step.type} {step.status} {step.step_details.model_dump_json()[:300]}")
            lines.append("events in its log: " + " ".join(_logged_events(stack, thread_id, run.id)))
    except (openai.OpenAIError, httpx.HTTPError) as exc:
        lines.append(f"asking the server failed: {exc!r}")
    lines += ["--- the stack ---", stack.log_tail()]
    return "\n".join(lines)


def _logged_events(stack: Stack, thread_id: str, run_id: str, budget_s: float = 3.0) -> list[str]:
    """The names of the run's events so far, from the follow endpoint (which stays open while the run is active:
    read for `budget_s` at most)."""
    names: list[str] = []
    deadline = time.monotonic() + budget_s
    headers = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}
    url = f"{stack.base_url}/threads/{thread_id}/runs/{run_id}/events"
    try:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5.0, read=budget_s)) as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    names.append(line[7:])
                if time.monotonic() > deadline:
                    names.append("(still open)")
                    break
    except httpx.ReadTimeout:
        names.append("(still open, quiet)")
    return names
