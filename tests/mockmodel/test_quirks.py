"""`[[quirk NAME]]`: the mock streams what real servers send, checked chunk by chunk and byte by byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from orchestrator.mockmodel import quirks as q
from orchestrator.mockmodel.app import create_app
from orchestrator.mockmodel.script import Answer, MockError, decide, parse_directives, tool_call_id
from orchestrator.mockmodel.stream import COMMENT, PING, SseStream, events
from tests.mockmodel.test_app import ask, running

GET_WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
GET_TIME = {"type": "function", "function": {"name": "get_time"}}
HEAD = {"id": "chatcmpl-q", "created": 7, "model": "m"}
WEATHER = '[[call get_weather {"city": "SF"}]]'  # arguments '{"city":"SF"}' stream as '{"city":"S' + 'F"}'
ERROR_EVENT = b'data: {"error":{"message":"upstream exploded mid-answer","type":"server_error","code":500}}\n\n'


def user(content: str) -> dict[str, Any]:
    return {"role": "user", "content": content}


def answer(text: str, tools: list[dict[str, Any]] | None = None, **kwargs: Any) -> Answer:
    result = decide([user(text)], tools, **kwargs)
    assert isinstance(result, Answer)
    return result


def stream(text: str, tools: list[dict[str, Any]] | None = None, include_usage: bool = False) -> SseStream:
    return events(answer(text, tools), HEAD, include_usage)


def data(frame: bytes) -> Any:
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n"), frame
    return json.loads(frame[len(b"data: ") : -2])


def chunks(sse: SseStream) -> list[dict[str, Any]]:
    return [data(frame) for frame in sse.events if frame.startswith(b"data: ")]


def deltas(sse: SseStream) -> list[tuple[dict[str, Any], str | None]]:
    """`(delta, finish_reason)` of every chunk that has a choice."""
    return [
        (choice["delta"], choice["finish_reason"]) for chunk in chunks(sse) for choice in chunk.get("choices") or []
    ]


def call_id(text: str) -> str:
    return tool_call_id(text, 0)


# Parsing.


def test_quirks_combine_across_directives_and_within_one() -> None:
    result = answer("[[quirk late_name]] hi [[quirk no_usage  reasoning]]")
    assert result.quirks == {"late_name", "no_usage", "reasoning"}
    assert result.content == "You said: hi"


def test_an_unknown_quirk_is_plain_text() -> None:
    assert parse_directives("[[quirk late_nam]]") == []
    assert answer("[[quirk late_name bogus]]").content == "You said: [[quirk late_name bogus]]"


def test_without_quirks_the_stream_is_openais_clean_shape() -> None:
    sse = stream("[[text a b]]", include_usage=True)
    assert sse.done
    assert [frame.startswith(b"data: {") for frame in sse.events] == [True] * 5
    assert deltas(sse) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "a"}, None),
        ({"content": " b"}, None),
        ({}, "stop"),
    ]
    assert chunks(sse)[-1] == {
        **HEAD,
        "object": "chat.completion.chunk",
        "system_fingerprint": None,
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        "choices": [],
    }


# Tool-call headers split up.


def test_late_name_sends_id_then_a_fragment_then_the_name() -> None:
    text = f"[[quirk late_name]] {WEATHER}"
    assert deltas(stream(text, [GET_WEATHER])) == [
        (
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"index": 0, "id": call_id(text), "type": "function"}],
            },
            None,
        ),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"S'}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"name": "get_weather"}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": 'F"}'}}]}, None),
        ({}, "tool_calls"),
    ]


def test_late_id_sends_name_then_a_fragment_then_the_id() -> None:
    text = f"[[quirk late_id]] {WEATHER} [[call get_time]]"
    header = {"index": 0, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    assert deltas(stream(text, [GET_WEATHER, GET_TIME])) == [
        ({"role": "assistant", "content": None, "tool_calls": [header]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"S'}}]}, None),
        ({"tool_calls": [{"index": 0, "id": tool_call_id(text, 0)}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": 'F"}'}}]}, None),
        ({"tool_calls": [{"index": 1, "type": "function", "function": {"name": "get_time", "arguments": ""}}]}, None),
        ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
        ({"tool_calls": [{"index": 1, "id": tool_call_id(text, 1)}]}, None),
        ({}, "tool_calls"),
    ]


def test_late_name_and_late_id_together_leave_a_bare_header() -> None:
    text = "[[quirk late_name late_id]] [[call get_time]]"
    assert deltas(stream(text, [GET_TIME]))[:4] == [
        ({"role": "assistant", "content": None, "tool_calls": [{"index": 0, "type": "function"}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}, None),
        ({"tool_calls": [{"index": 0, "function": {"name": "get_time"}}]}, None),
        ({"tool_calls": [{"index": 0, "id": call_id(text)}]}, None),
    ]


# Streams that end badly.


def test_error_midstream_sends_two_pieces_then_litellms_error_and_no_done() -> None:
    sse = stream("[[quirk error_midstream]] [[text alpha beta gamma delta]]", include_usage=True)
    assert not sse.done
    assert sse.events[-1] == ERROR_EVENT
    assert [d for d, _ in deltas(sse)] == [
        {"role": "assistant", "content": ""},
        {"content": "alpha"},
        {"content": " beta"},
    ]
    assert all(finish is None for _, finish in deltas(sse))
    assert not any(chunk.get("usage") for chunk in chunks(sse))


def test_error_midstream_cuts_a_tool_call_after_two_fragments() -> None:
    sse = stream(f"[[quirk error_midstream]] {WEATHER} [[call get_time]]", [GET_WEATHER, GET_TIME])
    arguments = [c["function"]["arguments"] for d, _ in deltas(sse) for c in d.get("tool_calls", [])]
    assert arguments == ["", '{"city":"S', 'F"}']
    assert sse.events[-1] == ERROR_EVENT


def test_truncated_ends_after_two_pieces_with_no_finish_usage_or_done() -> None:
    sse = stream("[[quirk truncated]] [[text alpha beta gamma delta]]", include_usage=True)
    assert not sse.done
    assert deltas(sse) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "alpha"}, None),
        ({"content": " beta"}, None),
    ]
    assert [chunk["usage"] for chunk in chunks(sse)] == [None, None, None]


def test_truncated_short_text_keeps_all_of_it_but_the_finish() -> None:
    sse = stream("[[quirk truncated]] [[text alone]]")
    assert deltas(sse) == [({"role": "assistant", "content": ""}, None), ({"content": "alone"}, None)]


# Extra stuff in the stream.


def test_no_choices_interleaves_empty_and_missing_choices() -> None:
    sse = stream("[[quirk no_choices]] [[text a b]]", include_usage=True)
    got = chunks(sse)
    assert ["choices" in chunk for chunk in got] == [True, True, True, False] * 2 + [True]
    extras = got[1:8:2]
    assert [extra.get("choices") for extra in extras] == [[], None, [], None]
    assert [extra["usage"]["completion_tokens"] for extra in extras[::2]] == [0, 2]  # after the role, after " b"
    assert extras[1] == {**HEAD, "object": "chat.completion.chunk"}
    assert got[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert "".join(d.get("content") or "" for d, _ in deltas(sse)) == "a b"


def test_named_event_interleaves_pings_and_comments_byte_for_byte() -> None:
    sse = stream("[[quirk named_event]] [[text a]]")
    assert PING == b"event: ping\ndata: {}\n\n" and COMMENT == b": still working\n\n"
    shape = [frame if frame in (PING, COMMENT) else b"data" for frame in sse.events]
    assert shape == [COMMENT, b"data", PING, b"data", COMMENT, b"data", PING]
    first = chunks(sse)[0]
    assert first["provider"] == "mock"
    assert first["choices"][0]["content_filter_results"] == {}
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "provider_specific_fields": None}


def test_reasoning_comes_before_the_text() -> None:
    assert deltas(stream("[[quirk reasoning]] [[text hi]]")) == [
        ({"role": "assistant", "content": ""}, None),
        ({"reasoning_content": "Pondering quietly,"}, None),
        ({"reasoning_content": " weighing options;"}, None),
        ({"reasoning": " decided."}, None),
        ({"content": "hi"}, None),
        ({}, "stop"),
    ]


def test_reasoning_comes_before_tool_calls() -> None:
    got = deltas(stream("[[quirk reasoning]] [[call get_time]]", [GET_TIME]))
    assert [next(iter(d)) for d, _ in got[:3]] == ["reasoning_content", "reasoning_content", "reasoning"]
    assert got[3][0]["role"] == "assistant" and got[3][0]["tool_calls"][0]["function"]["name"] == "get_time"


def test_no_usage_sends_no_usage_even_when_asked() -> None:
    sse = stream("[[quirk no_usage]] [[text a b]]", include_usage=True)
    assert sse.done
    assert all("usage" not in chunk for chunk in chunks(sse))
    assert all(chunk["choices"] for chunk in chunks(sse))


# The reply itself.


@pytest.mark.parametrize(("quirk", "param"), list(q.REJECTED_PARAMETERS.items()))
def test_reject_quirks_answer_400_naming_the_parameter_only_when_it_is_sent(quirk: str, param: str) -> None:
    messages = [user(f"[[quirk {quirk}]] [[text fine]]")]
    rejected = decide(messages, sent={"model", "messages", param})
    assert isinstance(rejected, MockError)
    assert rejected.status == 400
    assert rejected.body() == {
        "error": {
            "message": f"Unrecognized request argument supplied: {param}",
            "type": "invalid_request_error",
            "param": param,
            "code": None,
        }
    }
    accepted = decide(messages, sent={"model", "messages", "max_tokens"})
    assert isinstance(accepted, Answer) and accepted.content == "fine"


def test_text_after_call_streams_text_calls_then_text() -> None:
    text = "[[quirk text_after_call]] [[call get_time]]"
    result = answer(text, [GET_TIME])
    assert result.content == "Let me look that up. I will summarise once the results are in."
    assert result.completion_tokens == 2 + 5 + 8  # the call, then the words
    got = deltas(events(result, HEAD, False))
    assert got[0] == ({"role": "assistant", "content": ""}, None)
    streamed = [(("text", d["content"]) if "content" in d else ("call", d["tool_calls"][0])) for d, _ in got[1:-1]]
    before = [("text", piece) for piece in ("Let", " me", " look", " that", " up.")]
    header = {"index": 0, "id": call_id(text), "type": "function", "function": {"name": "get_time", "arguments": ""}}
    calls = [("call", header), ("call", {"index": 0, "function": {"arguments": "{}"}})]
    after = [("text", piece) for piece in ("I", " will", " summarise", " once", " the", " results", " are", " in.")]
    assert streamed == before + calls + after
    assert got[-1] == ({}, "tool_calls")
    assert "".join(p for kind, p in streamed[:5]) == q.TEXT_BEFORE_CALL_WORDS


@pytest.mark.parametrize(
    ("content", "expected"), [("Let me look.", "assistant said: Let me look."), (None, "assistant said: ")]
)
def test_echo_assistant_answers_with_the_calling_turns_content(content: str | None, expected: str) -> None:
    messages = [
        user("[[quirk echo_assistant]] [[call get_time]]"),
        {"role": "assistant", "content": "earlier"},
        {"role": "assistant", "content": content, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "noon"},
    ]
    result = decide(messages, [GET_TIME])
    assert isinstance(result, Answer)
    assert result.content == expected


def test_without_echo_assistant_tool_results_are_summarised() -> None:
    messages = [user("[[call get_time]]"), {"role": "assistant", "content": "x"}, {"role": "tool", "content": "noon"}]
    result = decide(messages, [GET_TIME])
    assert isinstance(result, Answer) and result.content == "Tool results: noon"


@pytest.mark.parametrize("quirk", ["length", "content_filter"])
def test_finish_reason_quirks_keep_the_text(quirk: str) -> None:
    sse = stream(f"[[quirk {quirk}]] [[text a b]]")
    assert deltas(sse)[-2:] == [({"content": " b"}, None), ({}, quirk)]
    assert sse.done


# Over HTTP: the bytes on the wire and the official client's view.


@pytest.fixture(scope="module")
def base_url() -> Any:
    with running(create_app()) as url:
        yield url


def raw_stream(base_url: str, text: str, **extra: Any) -> bytes:
    body = {"model": "m", "messages": [user(text)], "stream": True, **extra}
    with httpx.Client() as http, http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        assert response.status_code == 200
        return response.read()


def test_error_midstream_on_the_wire_ends_with_the_error_and_no_done(base_url: str) -> None:
    raw = raw_stream(base_url, "[[quirk error_midstream]] [[text alpha beta gamma]]")
    assert raw.endswith(b'" beta"},"logprobs":null,"finish_reason":null}]}\n\n' + ERROR_EVENT)
    assert b"[DONE]" not in raw


def test_named_events_on_the_wire(base_url: str) -> None:
    raw = raw_stream(base_url, "[[quirk named_event]] [[text a]]")
    assert raw.startswith(b": still working\n\ndata: {")
    assert raw.endswith(b"event: ping\ndata: {}\n\ndata: [DONE]\n\n")
    assert raw.count(b"event: ping\n") == 2


def test_the_official_client_sees_the_error_midstream(base_url: str) -> None:
    with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as client:
        got: list[str] = []
        stream = ask(client, "[[quirk error_midstream]] [[text alpha beta gamma]]", stream=True)
        with pytest.raises(openai.APIError, match="upstream exploded mid-answer"):
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "alpha beta"


def test_the_official_client_gets_a_400_naming_stream_options(base_url: str) -> None:
    text = "[[quirk reject_stream_options]] [[text ok]]"
    with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            ask(client, text, stream=True, stream_options={"include_usage": True})
        assert caught.value.param == "stream_options"
        assert "stream_options" in caught.value.message
        chunks = list(ask(client, text, stream=True))
        assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "ok"


def test_stream_quirks_combine_and_still_carry_the_same_call() -> None:
    text = f"[[quirk late_name late_id no_choices named_event reasoning]] {WEATHER}"
    sse = stream(text, [GET_WEATHER], include_usage=True)
    assert all(frame.endswith(b"\n\n") for frame in sse.events) and sse.done
    calls: dict[int, dict[str, str]] = {}
    for delta, _ in deltas(sse):
        for part in delta.get("tool_calls", []):
            call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] += part.get("id", "")
            call["name"] += part.get("function", {}).get("name", "")
            call["arguments"] += part.get("function", {}).get("arguments", "")
    assert calls == {0: {"id": call_id(text), "name": "get_weather", "arguments": '{"city":"SF"}'}}
    assert PING in sse.events and any("choices" not in chunk for chunk in chunks(sse))
    assert deltas(sse)[-1] == ({"provider_specific_fields": None}, "tool_calls")
