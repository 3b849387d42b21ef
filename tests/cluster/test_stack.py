"""The whole stack on a real 3-master Redis Cluster, driven by the official openai SDK: streamed text, a function
call through requires_action, code_interpreter, file_search over an uploaded file, cancel, listings whose documents
live in many slots, a run handed on after its worker was killed, and proof that the keys really are spread."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
import redis

from orchestrator.store import Keys
from tests.cluster.conftest import master_ports
from tests.e2e.helpers import RecordingHandler, function_tool, message_text
from tests.stack import PROJECT_A, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_a_streamed_text_run(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="mock")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text Hello from the cluster]]"}])
    handler = RecordingHandler()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
        run = s.get_final_run()
    assert run.status == "completed"
    assert handler.event_names[0] == "thread.run.created" and handler.event_names[-1] == "thread.run.completed"
    assert "".join(handler.text_deltas) == "Hello from the cluster"


def test_a_function_call_waits_for_its_output(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="mock", tools=[function_tool("lookup")])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[call lookup]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "requires_action" and run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "forty-two"}],
        poll_interval_ms=100,
    )
    assert done.status == "completed", done.last_error
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert "forty-two" in message_text(answer)


def test_the_ops_overview_counts_waiting_runs_whose_records_live_in_many_slots(
    client: openai.OpenAI, cluster_stack: Stack
) -> None:
    assistant = client.beta.assistants.create(model="mock", tools=[function_tool("lookup")])
    waiting = []
    for _ in range(3):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[call lookup]]"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
        )
        assert run.status == "requires_action"
        waiting.append(run)
    # One pipeline of HGETs over runs in several slots (active_runs_by_status), through the cluster client.
    response = httpx.get(
        f"{cluster_stack.base_url}/ops/overview", headers={"Authorization": f"Bearer {client.api_key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["runs"]["requires_action"] >= 3
    for run in waiting:
        client.beta.threads.runs.cancel(run_id=run.id, thread_id=run.thread_id)


def test_a_code_interpreter_run(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="mock", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[code print(6 * 7)]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
    logs = [
        output.logs
        for step in steps
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
        if call.type == "code_interpreter"
        for output in call.code_interpreter.outputs
        if output.type == "logs"
    ]
    assert logs == ["42\n"]


def test_file_search_over_an_uploaded_file(client: openai.OpenAI) -> None:
    text = "The Zorblatt lantern festival is held every spring in the hill village of Quenwick."
    store = client.vector_stores.create(name="cluster")
    done = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("festival.txt", text.encode()), poll_interval_ms=100
    )
    assert done.status == "completed", done.last_error
    assistant = client.beta.assistants.create(
        model="mock", tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[search Zorblatt festival]]"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    (part,) = answer.content
    assert part.type == "text" and part.text.annotations, "the answer cites the document"
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 1


def test_cancel(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="mock")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[slow 0.2]] [[long 200]]"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    wait_for(lambda: client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress", "start")
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    ended = wait_for(
        lambda: (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status in TERMINAL and r,
        "the cancel",
    )
    assert ended.status == "cancelled"


def test_listings_gather_documents_from_many_slots(client: openai.OpenAI) -> None:
    made = [client.beta.assistants.create(model="mock", name=f"listed-{i}").id for i in range(6)]
    listed = [a.id for a in client.beta.assistants.list(limit=100, order="asc").data]
    assert [i for i in listed if i in made] == made
    thread = client.beta.threads.create()
    for i in range(3):
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"message {i}")
    texts = [message_text(m) for m in client.beta.threads.messages.list(thread_id=thread.id, order="asc").data]
    assert texts == ["message 0", "message 1", "message 2"]
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=made[0], poll_interval_ms=100)
    assert [r.id for r in client.beta.threads.runs.list(thread_id=thread.id).data] == [run.id]
    uploaded = [client.files.create(file=(f"f{i}.txt", b"x"), purpose="assistants").id for i in range(3)]
    files = {f.id for f in client.files.list(purpose="assistants")}
    assert set(uploaded) <= files


def test_a_run_whose_worker_is_killed_is_handed_on(
    client: openai.OpenAI, cluster_stack: Stack, state: redis.Redis
) -> None:
    keys = Keys(cluster_stack.key_prefix)
    assistant = client.beta.assistants.create(model="mock")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[wait 3]] [[text recovered]]"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    claimed = wait_for(lambda: state.hget(keys.run(PROJECT_A, thread.id, run.id), "claimed_by"), "a worker's claim")
    victim = int(str(claimed).rsplit(":", 1)[1])
    # Before the model's first token, so nothing was streamed yet. The sweeper finds the lapsed lease in its
    # sharded index and hands the run on; the worker `up` starts in the killed one's place executes it.
    os.kill(victim, signal.SIGKILL)
    done = wait_for(
        lambda: (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status in TERMINAL and r,
        "the run to end on another worker",
        timeout_s=120,
    )
    assert done.status == "completed", done.last_error
    fields = state.hgetall(keys.run(PROJECT_A, thread.id, run.id))
    assert fields["recoveries"] == "1"
    assert int(str(fields["claimed_by"]).rsplit(":", 1)[1]) != victim


def test_the_keys_are_spread_over_every_master(client: openai.OpenAI, cluster_stack: Stack) -> None:
    assistant = client.beta.assistants.create(model="mock")
    for _ in range(4):
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "spread"}])
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    per_master = {}
    for port in master_ports(cluster_stack):
        node = redis.Redis(port=port, decode_responses=True)
        per_master[port] = sum(1 for _ in node.scan_iter(match=f"{cluster_stack.key_prefix}:*", count=1000))
        node.close()
    assert all(count > 0 for count in per_master.values()), per_master


def test_status_finds_the_cluster_that_up_started(cluster_stack: Stack) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env["ORCH_KEY_PREFIX"] = cluster_stack.key_prefix
    command = [sys.executable, "-m", "orchestrator", "status", "--json", "--data-dir", str(cluster_stack.data_dir)]
    report = json.loads(subprocess.run(command, env=env, check=True, capture_output=True, timeout=60).stdout)
    assert report["workers"]["runs"] >= 1 and set(report["runs"]) >= {"queued", "in_progress"}


def test_deletes_take_what_they_own(client: openai.OpenAI, cluster_stack: Stack, state: redis.Redis) -> None:
    keys = Keys(cluster_stack.key_prefix)
    upload = client.files.create(
        file=("notes.txt", b"The harbour of Lindmoor is known for its copper boats."), purpose="assistants"
    )
    store = client.vector_stores.create(name="doomed", file_ids=[upload.id])
    wait_for(lambda: client.vector_stores.retrieve(store.id).file_counts.completed == 1, "the file's ingestion")
    # A vector store's file goes with its chunks and postings (vs_file_remove.lua, in the store's slot).
    assert client.vector_stores.files.delete(upload.id, vector_store_id=store.id).deleted
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0
    assert client.vector_stores.delete(store.id).deleted
    # A file: its document, then its project's indexes (other slots).
    assert client.files.delete(upload.id).deleted
    assert upload.id not in {f.id for f in client.files.list()}
    # A thread with a finished run: everything in its slot, then the run's entries in the sharded indexes.
    assistant = client.beta.assistants.create(model="mock")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "bye"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert client.beta.threads.delete(thread.id).deleted
    assert state.exists(keys.thread(PROJECT_A, thread.id), keys.run(PROJECT_A, thread.id, run.id)) == 0
    assert client.beta.assistants.delete(assistant.id).deleted
    assert assistant.id not in {a.id for a in client.beta.assistants.list(limit=100).data}
