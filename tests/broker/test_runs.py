"""The whole stack with its Celery broker apart from the state, driven by the official SDK: every kind of work the
API, the run worker, the tool workers and the sweeper hand each other goes through that broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

from tests.broker import rabbitmq
from tests.broker.conftest import BrokerStack
from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, make_assistant, message_text

pytestmark = pytest.mark.e2e

QUEUES = {"runs", "tools.code_interpreter", "tools.file_search"}


def test_streamed_text_run(broker_stack: BrokerStack) -> None:
    with broker_stack.stack.client() as client:
        assistant = make_assistant(client, name="broker-text")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[text through the broker]]"}])
        handler = RecordingHandler()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            stream.until_done()
        assert handler.event_names[-1] == "thread.run.completed"
        assert "".join(handler.text_deltas) == "through the broker"
        message = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert message_text(message) == "through the broker"


def test_function_call_answered_with_submit_tool_outputs(broker_stack: BrokerStack) -> None:
    with broker_stack.stack.client() as client:
        assistant = make_assistant(client, function_tool("lookup"), name="broker-functions")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": '[[call lookup {"q": "x"}]]'}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
        )
        assert run.status == "requires_action" and run.required_action is not None
        (call,) = run.required_action.submit_tool_outputs.tool_calls
        assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "x"})
        # The answer resumes the run: a second task on the runs queue.
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "forty-two"}],
            poll_interval_ms=POLL_MS,
        )
        assert done.status == "completed"
        answer = client.beta.threads.messages.list(thread_id=thread.id).data[0]
        assert "forty-two" in message_text(answer)


def test_code_interpreter_run_goes_through_the_tool_pool(broker_stack: BrokerStack) -> None:
    with broker_stack.stack.client() as client:
        assistant = make_assistant(client, {"type": "code_interpreter"}, name="broker-code")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[code print(6 * 7)]]"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
        )
        assert run.status == "completed", run.last_error
        steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc").data
        calls = [c for s in steps if s.step_details.type == "tool_calls" for c in s.step_details.tool_calls]
        (call,) = calls
        assert call.type == "code_interpreter"
        assert [o.logs for o in call.code_interpreter.outputs if o.type == "logs"] == ["42\n"]


def test_cancel_mid_stream(broker_stack: BrokerStack) -> None:
    with broker_stack.stack.client() as client:
        assistant = make_assistant(client, name="broker-cancel")
        # 200 words 0.2 s apart: about 40 s unless the cancel stops it.
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "[[slow 0.2]] [[long 200]]"}])
        names: list[str] = []
        with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            for event in stream:
                names.append(event.event)
                if event.event == "thread.message.delta" and names.count(event.event) == 1:
                    current = stream.current_run
                    assert current is not None
                    client.beta.threads.runs.cancel(current.id, thread_id=thread.id)
            final = stream.get_final_run()
        assert final.status == "cancelled"
        assert names[-1] == "thread.run.cancelled"
        assert names.count("thread.message.delta") < 100


def test_queue_depths_are_read_from_the_broker(broker_stack: BrokerStack) -> None:
    """`orchestrator status` and the sweeper's gauges read the depths on the broker in use, not on the state."""
    stack = broker_stack.stack
    env = {"ORCH_BROKER_URL": broker_stack.broker_url, "ORCH_KEY_PREFIX": stack.key_prefix}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "status", "--json", "--redis-url", stack.redis_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_base_env(), **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["queues"] == dict.fromkeys(QUEUES, 0)  # every run of this session has been taken
    # The sweeper reads them every pass; a reading that failed would be logged as `sweeper.failed`.
    assert "sweeper.failed" not in stack.log_tail(lines=100_000)


def test_rabbitmq_queues_are_quorum_queues(rabbitmq_stack: BrokerStack) -> None:
    types = rabbitmq.queue_types(rabbitmq_stack.vhost)
    assert set(types) >= QUEUES
    # Ours, and Celery's delayed-delivery queues (a retry's countdown): all quorum, no transient classic queue.
    assert {name: kind for name, kind in types.items() if kind != "quorum"} == {}


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}


def test_redis_broker_holds_celery_and_the_state_holds_none_of_it(redis_stack: BrokerStack) -> None:
    """With ORCH_BROKER_URL on another Redis, Celery's queues and bindings live there and only there."""
    stack = redis_stack.stack
    state = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    broker = redis.Redis.from_url(redis_stack.broker_url, decode_responses=True)
    try:
        # Every queue is bound to the default exchange (named after the default queue, `runs`).
        bound = {str(member).rsplit("\x06\x16", 1)[1] for member in broker.smembers("_kombu.binding.runs")}
        assert bound == QUEUES
        assert list(broker.scan_iter(match=f"{stack.key_prefix}*")) == []
        assert list(state.scan_iter(match="_kombu.*")) == []
        assert [key for queue in QUEUES for key in state.scan_iter(match=f"{queue}*")] == []
        assert list(state.scan_iter(match=f"{stack.key_prefix}*", count=1000))  # the state is there
    finally:
        state.close()
        broker.close()
