"""The mock model's reply rules, through the pure `script` module."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from typing import Any

import pytest

from orchestrator.mockmodel.script import (
    GREETING,
    Answer,
    MockError,
    decide,
    find_equation,
    message_text,
    parse_directives,
    strip_directives,
    tokenize,
    tool_call_id,
)

CODE_INTERPRETER = {"type": "function", "function": {"name": "code_interpreter", "parameters": {"type": "object"}}}
GET_WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
GET_TIME = {"type": "function", "function": {"name": "get_time"}}
TUTOR_QUESTION = "I need to solve the equation '3x + 11 = 14'. Can you help me?"


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def answer(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, **kwargs: Any) -> Answer:
    result = decide(messages, tools, **kwargs)
    assert isinstance(result, Answer)
    return result


def run_python(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    return out.getvalue()


# Rule 1: directives come from the last user message only.


def test_directives_are_read_from_the_last_user_message_only() -> None:
    messages = [user("[[error 500]]"), {"role": "assistant", "content": "ok"}, user("[[text second]]")]
    assert answer(messages).content == "second"


def test_directives_in_later_non_user_messages_are_ignored() -> None:
    messages = [user("hi"), {"role": "assistant", "content": "[[error 500]]"}]
    assert answer(messages).content == "You said: hi"


def test_content_parts_are_read_as_text() -> None:
    parts = [
        {"type": "text", "text": "[[text from parts]]"},
        {"type": "image_url", "image_url": {"url": "http://x"}},
    ]
    assert message_text(user(parts)) == "[[text from parts]]"
    assert answer([user(parts)]).content == "from parts"


# Rule 2: errors.


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limit_exceeded"),
        (500, "server_error"),
        (503, "server_error"),
        (400, "invalid_request_error"),
        (404, "invalid_request_error"),
    ],
)
def test_error_directive_yields_that_status(status: int, kind: str) -> None:
    result = decide([user(f"please [[error {status}]]")], [GET_WEATHER])
    assert result == MockError(status, f"mock error {status}", kind)
    assert isinstance(result, MockError)
    assert result.body() == {"error": {"message": f"mock error {status}", "type": kind, "param": None, "code": None}}


def test_error_outside_4xx_5xx_is_not_a_directive() -> None:
    assert answer([user("[[error 200]]")]).content == "You said: [[error 200]]"


def test_error_wins_over_tool_calls() -> None:
    result = decide([user('[[call get_weather {"city": "SF"}]] [[error 429]]')], [GET_WEATHER])
    assert isinstance(result, MockError)
    assert result.status == 429


# Rule 3: tool results are summarised.


def test_tool_results_are_summarised_in_order() -> None:
    messages = [
        user('[[call get_weather {"city": "SF"}]] [[call get_time]]'),
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "noon"}]},
    ]
    result = answer(messages, [GET_WEATHER, GET_TIME])
    assert result.content == "Tool results: sunny; noon"
    assert result.finish_reason == "stop"
    assert not result.tool_calls


def test_only_trailing_tool_messages_are_summarised() -> None:
    messages = [
        {"role": "tool", "tool_call_id": "old", "content": "stale"},
        user("go"),
        {"role": "tool", "tool_call_id": "new", "content": "fresh"},
    ]
    assert answer(messages).content == "Tool results: fresh"


def test_numeric_tool_output_for_an_equation_is_verified() -> None:
    messages = [user(TUTOR_QUESTION), {"role": "tool", "tool_call_id": "a", "content": "1.0\n"}]
    content = answer(messages, [CODE_INTERPRETER]).content
    assert content is not None
    assert "x = 1.0" in content
    assert "3 * 1.0 + 11 = 14" in content


def test_wrong_numeric_tool_output_is_reported_as_not_matching() -> None:
    messages = [user("solve 2y - 4 = 10"), {"role": "tool", "tool_call_id": "a", "content": "3"}]
    content = answer(messages, [CODE_INTERPRETER]).content
    assert content is not None
    assert "y = 3" in content
    assert "right-hand side is 10" in content


# Rule 4: [[call NAME JSON]].


def test_call_directives_become_tool_calls_in_order() -> None:
    text = 'Weather? [[call get_weather {"city": "SF",  "days": [1, 2]}]] and [[call get_time]]'
    result = answer([user(text)], [GET_WEATHER, GET_TIME])
    assert result.finish_reason == "tool_calls"
    assert result.content is None
    assert [(call.name, call.arguments) for call in result.tool_calls] == [
        ("get_weather", '{"city":"SF","days":[1,2]}'),
        ("get_time", "{}"),
    ]
    assert [call.id for call in result.tool_calls] == [tool_call_id(text, 0), tool_call_id(text, 1)]


def test_tool_call_ids_are_deterministic_and_well_formed() -> None:
    first, second = tool_call_id("hello", 0), tool_call_id("hello", 1)
    assert first == tool_call_id("hello", 0)
    assert first != second != tool_call_id("other", 1)
    assert re.fullmatch(r"call_[0-9A-Za-z]{24}", first)


def test_call_to_a_tool_not_offered_is_ignored() -> None:
    text = '[[call get_weather {"city": "SF"}]] [[call launch_rockets {}]]'
    result = answer([user(text)], [GET_WEATHER])
    assert [call.name for call in result.tool_calls] == ["get_weather"]
    assert answer([user("Go [[call launch_rockets {}]]")], [GET_WEATHER]).content == "You said: Go"


def test_call_json_may_contain_double_brackets_and_unicode() -> None:
    result = answer([user('[[call get_weather {"grid": [[1]], "city": "Zürich"}]]')], [GET_WEATHER])
    assert result.tool_calls[0].arguments == '{"grid":[[1]],"city":"Zürich"}'


@pytest.mark.parametrize("text", ["[[call get_weather {not json}]]", "[[call get_weather [1, 2]]]"])
def test_malformed_call_is_plain_text(text: str) -> None:
    assert answer([user(text)], [GET_WEATHER]).content == f"You said: {text}"


def test_tool_call_usage_counts_argument_length() -> None:
    result = answer([user('[[call get_weather {"city": "SF"}]] [[call get_time]]')], [GET_WEATHER, GET_TIME])
    assert result.completion_tokens == (math.ceil(len('{"city":"SF"}') / 4) + 1) + (math.ceil(2 / 4) + 1)


# Rule 5: code_interpreter.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TUTOR_QUESTION, ("x", 3, 11, 14)),
        ("2.5y-1=4", ("y", 2.5, -1, 4)),
        ("what is -z + 3 = -7 ?", ("z", -1, 3, -7)),
        ("solve 4 * t - 2.5 = 10.", ("t", 4, -2.5, 10)),
        ("x + 1 = 3", ("x", 1, 1, 3)),
    ],
)
def test_linear_equations_are_recognised(text: str, expected: tuple[str, float, float, float]) -> None:
    equation = find_equation(text)
    assert equation is not None
    assert (equation.var, equation.a, equation.b, equation.c) == expected


@pytest.mark.parametrize("text", ["x^2 + 1 = 5", "3x + 2y = 5", "Item + 3 = 5", "no maths here", "x + 1 = 2x"])
def test_non_linear_or_non_equations_are_not_recognised(text: str) -> None:
    assert find_equation(text) is None


def test_equation_is_solved_through_code_interpreter() -> None:
    result = answer([user(TUTOR_QUESTION)], [CODE_INTERPRETER])
    (call,) = result.tool_calls
    assert call.name == "code_interpreter"
    assert call.id == tool_call_id(TUTOR_QUESTION, 0)
    code = json.loads(call.arguments)["code"]
    assert code == "a, b, c = 3, 11, 14\nx = (c - b) / a\nprint(x)"
    assert run_python(code) == "1.0\n"


def test_negative_equation_code_solves_it() -> None:
    call = answer([user("2.5y - 1 = 4")], [CODE_INTERPRETER]).tool_calls[0]
    assert run_python(json.loads(call.arguments)["code"]) == "2.0\n"


def test_equation_without_code_interpreter_is_echoed() -> None:
    assert answer([user(TUTOR_QUESTION)], [GET_WEATHER]).content == f"You said: {TUTOR_QUESTION}"


def test_code_directive_wins_over_the_equation() -> None:
    result = answer([user("3x + 1 = 4 [[code print(sum([[1, 2]][0]))]]")], [CODE_INTERPRETER])
    assert json.loads(result.tool_calls[0].arguments) == {"code": "print(sum([[1, 2]][0]))"}


def test_code_directive_keeps_multiline_code_exactly() -> None:
    code = "for i in range(2):\n    print(i)"
    result = answer([user(f"[[code {code}]]")], [CODE_INTERPRETER])
    assert json.loads(result.tool_calls[0].arguments) == {"code": code}


def test_call_directives_win_over_code_interpreter() -> None:
    result = answer([user(f"[[call get_time]] {TUTOR_QUESTION}")], [CODE_INTERPRETER, GET_TIME])
    assert [call.name for call in result.tool_calls] == ["get_time"]


# Rule 6: text.


def test_default_answer_echoes_text_without_directives() -> None:
    assert answer([user("Hi [[slow 0.5]] there  [[wait 1]]")]).content == "You said: Hi there"


def test_empty_user_text_gets_a_greeting() -> None:
    assert answer([user("[[wait 1]]")]).content == GREETING
    assert answer([{"role": "system", "content": "Be nice."}]).content == GREETING


def test_text_directive_is_the_exact_answer() -> None:
    assert answer([user("ignored [[text  Exactly this,\nspaces too. ]]")]).content == " Exactly this,\nspaces too. "


def test_long_directive_gives_n_words() -> None:
    result = answer([user("[[long 7]]")])
    assert result.content == "word1 word2 word3 word4 word5 word6 word7"
    assert result.completion_tokens == 7
    assert len(result.pieces) == 7


def test_unknown_directive_is_plain_text() -> None:
    assert answer([user("[[dance now]]")]).content == "You said: [[dance now]]"


# Rule 7: pacing.


def test_slow_and_wait_directives_set_pacing() -> None:
    result = answer([user("[[slow 0.25]] [[wait 2]] hi")])
    assert (result.slow_s, result.wait_s) == (0.25, 2.0)
    plain = answer([user("hi")])
    assert (plain.slow_s, plain.wait_s) == (None, 0.0)


def test_pacing_applies_to_tool_calls_too() -> None:
    result = answer([user("[[slow 1]] [[call get_time]]")], [GET_TIME])
    assert result.tool_calls
    assert result.slow_s == 1.0


# Rule 8: tokens and max_tokens.


@pytest.mark.parametrize("text", ["Hello world", "  leading and trailing  ", "multi\nline\ttext", "one", "", "   "])
def test_pieces_concatenate_back_to_the_text(text: str) -> None:
    pieces = tokenize(text)
    assert "".join(pieces) == text
    assert len([piece for piece in pieces if piece.strip()]) == len(text.split())


def test_max_tokens_truncates_with_length_finish() -> None:
    result = answer([user("[[long 10]]")], max_tokens=3)
    assert result.content == "word1 word2 word3"
    assert result.pieces == ("word1", " word2", " word3")
    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


def test_max_tokens_not_reached_stops_normally() -> None:
    result = answer([user("[[long 3]]")], max_tokens=3)
    assert (result.content, result.finish_reason) == ("word1 word2 word3", "stop")


# Rule 9: streamed deltas.


def test_text_deltas_start_with_role_and_end_with_finish_reason() -> None:
    deltas = answer([user("[[text a b c]]")]).deltas()
    assert deltas == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "a"}, None),
        ({"content": " b"}, None),
        ({"content": " c"}, None),
        ({}, "stop"),
    ]


def test_tool_call_deltas_stream_headers_then_argument_fragments() -> None:
    result = answer([user('[[call get_weather {"city": "San Francisco"}]] [[call get_time]]')], [GET_WEATHER, GET_TIME])
    deltas = result.deltas()
    first, *_ = deltas
    assert first[0]["role"] == "assistant"
    assert deltas[-1] == ({}, "tool_calls")
    headers = [d["tool_calls"][0] for d, _ in deltas if d.get("tool_calls") and "id" in d["tool_calls"][0]]
    assert headers == [
        {"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        for i, call in enumerate(result.tool_calls)
    ]
    fragments: dict[int, list[str]] = {0: [], 1: []}
    for delta, _ in deltas[:-1]:
        (tool_call,) = delta["tool_calls"]
        if "id" not in tool_call:
            assert set(tool_call) == {"index", "function"}
            assert len(tool_call["function"]["arguments"]) <= 10
            fragments[tool_call["index"]].append(tool_call["function"]["arguments"])
    assert len(fragments[0]) > 1
    assert ["".join(fragments[i]) for i in (0, 1)] == [call.arguments for call in result.tool_calls]


# Rule 10: usage.


def test_prompt_tokens_count_words_of_every_message() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        user([{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}]),
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "a", "content": "four five six"},
    ]
    result = answer(messages, [GET_WEATHER])
    assert result.prompt_tokens == 8
    assert result.usage() == {
        "prompt_tokens": 8,
        "completion_tokens": result.completion_tokens,
        "total_tokens": 8 + result.completion_tokens,
    }


def test_message_of_a_tool_call_answer() -> None:
    result = answer([user("[[call get_time]]")], [GET_TIME])
    (call,) = result.tool_calls
    assert result.message() == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "get_time", "arguments": "{}"}}],
    }


# Directive parsing.


def test_parse_and_strip_directives() -> None:
    text = "a [[slow 1]] b [[error 99]] c [[text x]]"
    directives = parse_directives(text)
    assert [(d.kind, d.value) for d in directives] == [("slow", "1"), ("text", "x")]
    assert strip_directives(text, directives) == "a b [[error 99]] c"
