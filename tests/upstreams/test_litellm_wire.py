"""What LiteLLM sends on the wire, read with httpx straight from the proxy, compared with OpenAI's stream shape.

Each test pins one difference docs/upstreams.md lists, so a LiteLLM upgrade that changes it fails here first.
The backend is the mock model (through the recorder), steered by `[[...]]` and `[[quirk ...]]` directives.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.upstreams.litellm_proxy import LiteLLM
from tests.upstreams.recorder import Recorder

pytestmark = pytest.mark.integration

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def _stream(litellm: LiteLLM, text: str, **extra: Any) -> tuple[list[dict[str, Any]], bool]:
    """The proxy's SSE chunks for one streamed request, and whether it ended with `data: [DONE]`."""
    body = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    chunks: list[dict[str, Any]] = []
    done = False
    headers = {"Authorization": f"Bearer {litellm.api_key}"}
    with httpx.stream("POST", f"{litellm.base_url}/chat/completions", json=body, headers=headers, timeout=30) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            assert not (done and line), f"data after [DONE]: {line!r}"
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                chunks.append(json.loads(line.removeprefix("data: ")))
            else:
                assert line == "", f"LiteLLM sent a non-data SSE line: {line!r}"
    return chunks, done


def _error(litellm: LiteLLM, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": text}], **extra}
    headers = {"Authorization": f"Bearer {litellm.api_key}"}
    return httpx.post(f"{litellm.base_url}/chat/completions", json=body, headers=headers, timeout=30)


def test_text_stream_shape(litellm: LiteLLM) -> None:
    chunks, done = _stream(litellm, "[[text a b c]]")
    assert done
    *content, finish, usage = chunks
    assert [c["choices"][0]["delta"].get("content") for c in content] == ["", "a", " b", " c"]
    # OpenAI sends `"finish_reason": null` on every chunk; LiteLLM leaves the key out until the last one.
    assert all("finish_reason" not in c["choices"][0] for c in content)
    assert finish["choices"][0]["finish_reason"] == "stop"
    # OpenAI's usage chunk has `"choices": []`; LiteLLM's has one empty choice, and adds `cost`.
    assert usage["choices"] == [{"index": 0, "delta": {}}]
    assert usage["usage"]["completion_tokens"] == 3 and "cost" in usage["usage"]


def test_tool_call_fragments_repeat_the_type(litellm: LiteLLM) -> None:
    chunks, _ = _stream(litellm, '[[call get_weather {"city":"Paris"}]]')
    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or []]
    first, *fragments = calls
    assert first["id"].startswith("call_") and first["function"]["name"] == "get_weather"
    # OpenAI sends `type` only with the id; LiteLLM repeats `"type": "function"` on every argument fragment.
    assert fragments and all(f["type"] == "function" and "id" not in f for f in fragments)
    assert "".join(f["function"]["arguments"] for f in calls) == '{"city":"Paris"}'


def test_late_tool_name_loses_the_id(litellm: LiteLLM) -> None:
    """The backend sends id and type, then an argument fragment, then the name: LiteLLM drops the id-only chunk,
    so the call's id never reaches the client."""
    chunks, done = _stream(litellm, '[[quirk late_name]] [[call get_weather {"city":"Paris"}]]')
    assert done
    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or []]
    assert all("id" not in call for call in calls)
    assert "name" not in calls[0]["function"] and calls[1]["function"]["name"] == "get_weather"
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_backend_error_mid_stream_becomes_an_error_event_without_done(litellm: LiteLLM) -> None:
    chunks, done = _stream(litellm, "going well until [[quirk error_midstream]]")
    assert not done
    *text, last = chunks
    assert [c["choices"][0]["delta"].get("content") for c in text] == ["", "You", " said:"]
    assert set(last) == {"error"}
    # The backend's message survives, wrapped; `code` becomes the string "500" and `type` null.
    assert last["error"]["message"].endswith("upstream exploded mid-answer")
    assert (last["error"]["code"], last["error"]["type"]) == ("500", None)


def test_backend_cut_short_is_reported_as_a_normal_end(litellm: LiteLLM) -> None:
    """The backend stops with no finish reason, no usage and no [DONE]; LiteLLM invents all three."""
    chunks, done = _stream(litellm, "one two [[quirk truncated]]")
    assert done
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_missing_usage_is_invented(litellm: LiteLLM) -> None:
    chunks, _ = _stream(litellm, "[[quirk no_usage]] [[text a b c]]")
    assert chunks[-1]["usage"]["completion_tokens"] == 3  # counted by LiteLLM itself


def test_pings_and_choiceless_chunks_become_empty_choices(litellm: LiteLLM) -> None:
    chunks, done = _stream(litellm, "[[quirk named_event no_choices]] [[text a b c]]")
    assert done
    empty = [c for c in chunks if c["choices"] == []]
    assert empty, "expected LiteLLM to pass choice-less chunks on as `choices: []`"
    # The pings come out as chunks with an id of LiteLLM's own, unlike the completion's.
    assert len({c["id"] for c in chunks}) > 1


def test_reasoning_is_normalised_to_reasoning_content(litellm: LiteLLM) -> None:
    chunks, _ = _stream(litellm, "[[quirk reasoning]] [[text a]]")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
    assert "".join(reasoning) == "Pondering quietly, weighing options; decided."
    assert not any("reasoning" in d for d in deltas)


def test_parameters_are_forwarded_unchanged(litellm: LiteLLM, recorder: Recorder) -> None:
    _stream(litellm, "limits-probe-a [[long 10]]", max_completion_tokens=3, parallel_tool_calls=False)
    forwarded = recorder.wait_for_completion_with("limits-probe-a").body
    assert forwarded is not None
    assert forwarded["max_completion_tokens"] == 3 and "max_tokens" not in forwarded
    assert forwarded["stream_options"] == {"include_usage": True}
    assert forwarded["parallel_tool_calls"] is False
    _stream(litellm, "limits-probe-b [[long 10]]", max_tokens=3)
    older = recorder.wait_for_completion_with("limits-probe-b").body
    assert older is not None and older["max_tokens"] == 3 and "max_completion_tokens" not in older


@pytest.mark.parametrize("parameter", ["stream_options", "max_completion_tokens", "parallel_tool_calls"])
def test_a_rejected_parameter_is_named_in_the_400(litellm: LiteLLM, parameter: str) -> None:
    extra = {"max_completion_tokens": 300, "parallel_tool_calls": True}
    response = _error(litellm, f"[[quirk reject_{parameter}]]", stream_options={"include_usage": True}, **extra)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == parameter and f"Unrecognized request argument supplied: {parameter}" in error["message"]


@pytest.mark.parametrize(("status", "kind"), [(500, "internal_server_error"), (429, "throttling_error")])
def test_backend_status_errors_are_relayed_with_litellm_types(litellm: LiteLLM, status: int, kind: str) -> None:
    response = _error(litellm, f"[[error {status}]]")
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (kind, str(status))
    assert error["message"].startswith("litellm.") and f"mock error {status}" in error["message"]
