"""The official SDK against `orchestrator up` whose model endpoint is the LiteLLM proxy (in front of the mock).

The same runs as the e2e suite, so a difference here is LiteLLM's doing: plain text (polled and streamed), function
calls (one and parallel), the seed's code-interpreter run, a token limit, a cancel mid-stream, and the stream quirks
LiteLLM is known to produce (issue 10). The recorder shows what LiteLLM forwarded to the mock.
"""

from __future__ import annotations

import json
import uuid

import openai
import pytest
from openai.types.beta import Assistant
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from tests.e2e.helpers import POLL_MS, RecordingHandler, function_tool, message_text
from tests.support import PLAIN_TEXT_ORDER, collapse
from tests.upstreams.litellm_proxy import MASTER_KEY
from tests.upstreams.recorder import Recorder

pytestmark = pytest.mark.e2e

OUTPUTS = {"get_weather": "18C and sunny", "get_time": "12:34"}
SEED_EQUATION = "I need to solve the equation '3x + 11 = 14'. Can you help me?"


@pytest.fixture(scope="module")
def assistant(litellm_client: openai.OpenAI) -> Assistant:
    tools = [function_tool("get_weather"), function_tool("get_time")]
    return litellm_client.beta.assistants.create(model="gpt-4o", name="via-litellm", tools=tools)


@pytest.fixture(scope="module")
def tutor(litellm_client: openai.OpenAI) -> Assistant:
    return litellm_client.beta.assistants.create(
        model="gpt-4-turbo",
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
    )


def _marker() -> str:
    """Unique words for one test, so its forwarded request can be found among the others."""
    return f"probe-{uuid.uuid4().hex[:10]}"


def _thread(client: openai.OpenAI, text: str) -> str:
    return client.beta.threads.create(messages=[{"role": "user", "content": text}]).id


def test_polled_text_run_and_what_litellm_forwards(
    litellm_client: openai.OpenAI, assistant: Assistant, recorder: Recorder
) -> None:
    marker = _marker()
    thread_id = _thread(litellm_client, f"hello through the proxy {marker}")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message_text(message) == f"You said: hello through the proxy {marker}"
    assert run.usage is not None and run.usage.prompt_tokens > 0 and run.usage.completion_tokens > 0

    forwarded = recorder.wait_for_completion_with(marker)
    assert forwarded.path == "/v1/chat/completions"
    assert forwarded.body is not None
    assert forwarded.body["model"] == "gpt-4o" and forwarded.body["stream"] is True
    # The proxy uses its own credentials upstream, never the key the executor presented to it.
    assert forwarded.headers["authorization"] == "Bearer sk-backend"
    assert MASTER_KEY not in json.dumps(forwarded.headers)


def test_streamed_text_run(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id = _thread(litellm_client, "[[text Streamed through LiteLLM, word by word.]]")
    handler = RecordingHandler()
    with litellm_client.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert collapse(handler.event_names) == PLAIN_TEXT_ORDER
    assert "".join(handler.text_deltas) == "Streamed through LiteLLM, word by word."
    assert handler.texts_done == ["Streamed through LiteLLM, word by word."]


def test_function_call_round_trip(litellm_client: openai.OpenAI, assistant: Assistant, recorder: Recorder) -> None:
    marker = _marker()
    thread_id = _thread(litellm_client, f'{marker} [[call get_weather {{"city":"Paris"}}]]')
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action", run.last_error
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function",
        "get_weather",
        {"city": "Paris"},
    )
    assert call.id.startswith("call_")
    done = litellm_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": OUTPUTS["get_weather"]}],
        poll_interval_ms=POLL_MS,
    )
    assert done.status == "completed", done.last_error
    newest = litellm_client.beta.threads.messages.list(thread_id=thread_id, order="desc", limit=1).data[0]
    assert message_text(newest) == "Tool results: 18C and sunny"

    # The second turn went through the proxy with the call and its output tied by the same id.
    second = recorder.wait_for_completion_with(OUTPUTS["get_weather"])
    assert second.body is not None
    *_, assistant_turn, tool_turn = second.body["messages"]
    assert [c["id"] for c in assistant_turn["tool_calls"]] == [call.id]
    assert tool_turn == {"role": "tool", "tool_call_id": call.id, "content": OUTPUTS["get_weather"]}


def test_parallel_function_calls_streamed(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id = _thread(litellm_client, 'Both? [[call get_weather {"city":"Oslo"}]] [[call get_time {"tz":"CET"}]]')
    with litellm_client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert run.status == "requires_action", run.last_error
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert len({c.id for c in calls}) == 2
    outputs: list[ToolOutput] = [{"tool_call_id": c.id, "output": OUTPUTS[c.function.name]} for c in calls]
    handler = RecordingHandler()
    with litellm_client.beta.threads.runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=outputs,
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert handler.event_names[-1] == "thread.run.completed"
    assert handler.texts_done == ["Tool results: 18C and sunny; 12:34"]


def test_code_interpreter_seed_run(litellm_client: openai.OpenAI, tutor: Assistant) -> None:
    thread_id = _thread(litellm_client, SEED_EQUATION)
    handler = RecordingHandler()
    with litellm_client.beta.threads.runs.stream(
        thread_id=thread_id,
        assistant_id=tutor.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert handler.event_names[-1] == "thread.run.completed"
    assert "".join(handler.tool_input_deltas) == "a, b, c = 3, 11, 14\nx = (c - b) / a\nprint(x)"
    call = handler.tool_calls_done[0]  # the SDK reports the call done again when its step completes
    assert call.type == "code_interpreter"
    assert [o.logs.strip() for o in call.code_interpreter.outputs if o.type == "logs"] == ["1.0"]
    assert handler.texts_done == ["The solution is x = 1.0. Checking: 3 * 1.0 + 11 = 14, as required."]


def test_max_completion_tokens(litellm_client: openai.OpenAI, assistant: Assistant, recorder: Recorder) -> None:
    marker = _marker()
    thread_id = _thread(litellm_client, f"{marker} [[long 300]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, max_completion_tokens=256, poll_interval_ms=POLL_MS
    )
    assert run.status == "incomplete", run.last_error
    assert run.incomplete_details is not None and run.incomplete_details.reason == "max_completion_tokens"
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message.status == "incomplete"
    assert message_text(message).split() == [f"word{i}" for i in range(1, 257)]
    # LiteLLM forwards whichever name the executor used, unchanged (it rewrites neither for `openai/` models).
    forwarded = recorder.wait_for_completion_with(marker).body
    assert forwarded is not None
    assert forwarded.get("max_completion_tokens", forwarded.get("max_tokens")) == 256


def test_cancel_mid_stream(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id = _thread(litellm_client, "[[slow 0.2]] [[long 200]]")  # ~40 s unless the cancel works
    names: list[str] = []
    cancelled = False
    with litellm_client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant.id) as stream:
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta" and not cancelled:
                litellm_client.beta.threads.runs.cancel(stream.current_run.id, thread_id=thread_id)  # type: ignore[union-attr]
                cancelled = True
        final = stream.get_final_run()
    assert names[-1] == "thread.run.cancelled"
    assert final.status == "cancelled"
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=final.id).data
    assert message.status == "incomplete"
    assert len(message_text(message).split()) < 200


# What LiteLLM does to streams real servers send (issue 10). Each must leave the run in a state the user can explain.


def test_tool_call_named_late(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    """The backend names the call after its id; LiteLLM drops the id-only chunk, so no id reaches the executor."""
    thread_id = _thread(litellm_client, '[[quirk late_name]] [[call get_weather {"city":"Rome"}]]')
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "requires_action", run.last_error
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Rome"})
    assert call.id  # whatever id the executor had to settle on, the client can answer it
    done = litellm_client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "warm"}],
        poll_interval_ms=POLL_MS,
    )
    assert done.status == "completed", done.last_error


def test_backend_error_after_streaming_began(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    """LiteLLM turns the backend's mid-stream error into `data: {"error": ...}` and ends without [DONE]."""
    thread_id = _thread(litellm_client, "going well until [[quirk error_midstream]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "server_error"
    assert "upstream exploded mid-answer" in run.last_error.message
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message.status == "incomplete"


def test_backend_stream_cut_short(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    """The backend ends mid-answer with no finish reason and no [DONE]. LiteLLM papers over it with `stop`, usage
    and [DONE] (see test_litellm_wire), so the executor can't tell: the run completes with the cut-off text.
    This pins what users behind LiteLLM get, so a LiteLLM upgrade that starts reporting it is noticed."""
    thread_id = _thread(litellm_client, "one two three four [[quirk truncated]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message_text(message) == "You said:"


def test_backend_rejects_stream_options(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    """LiteLLM asks its backend for `stream_options` itself, whether or not the request carried it: the executor's
    retry without the parameter (tests/e2e/test_upstream_quirks.py shows it against a direct upstream) meets the
    same 400 here, so the run fails as `invalid_prompt` with LiteLLM's own words. Behind LiteLLM, such a backend is
    configured in LiteLLM, not worked around by its clients; this pins what users see until that changes."""
    thread_id = _thread(litellm_client, "[[quirk reject_stream_options]] [[text still answered]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "invalid_prompt"
    assert "stream_options" in run.last_error.message


def test_reasoning_deltas_stay_out_of_the_message(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    thread_id = _thread(litellm_client, "[[quirk reasoning]] [[text The answer.]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message_text(message) == "The answer."


def test_empty_choice_chunks_and_pings(litellm_client: openai.OpenAI, assistant: Assistant) -> None:
    """`no_choices` and `named_event` reach the executor as extra chunks with `"choices": []` (LiteLLM rewrites pings
    and choice-less chunks so)."""
    thread_id = _thread(litellm_client, "[[quirk no_choices named_event]] [[text Tolerated.]]")
    run = litellm_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=POLL_MS
    )
    assert run.status == "completed", run.last_error
    (message,) = litellm_client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id).data
    assert message_text(message) == "Tolerated."
