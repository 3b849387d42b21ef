"""Hostile request bodies: `null` where OpenAI allows it, lone surrogates, JSON nested deep enough to break what
reads it back, oversized text and bodies. Each is a 400 (or 413) in OpenAI's envelope that names the problem, and
nothing is stored that a later read could not parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.domain.request_limits import MAX_JSON_DEPTH, MAX_TEXT_CHARS, MAX_TOOL_OUTPUTS_BYTES
from tests.api.conftest import HEADERS, MakeApi

JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error: dict[str, Any] = body["error"]
    return error


def nested(levels: int) -> dict[str, Any]:
    """A JSON object `levels` deep: {"a": {"a": ... {}}}."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def function_tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def post_raw(api: TestClient, path: str, raw: bytes) -> Any:
    return api.post(path, content=raw, headers=JSON_HEADERS)


def test_null_is_accepted_wherever_openai_allows_it(api: TestClient) -> None:
    nulls = dict.fromkeys(
        ("name", "description", "instructions", "tools", "tool_resources", "metadata", "temperature", "top_p"),
    )
    assistant = api.post(
        "/v1/assistants",
        json={"model": "m", **nulls, "response_format": None, "reasoning_effort": None},
        headers=HEADERS,
    )
    assert assistant.status_code == 200, assistant.text
    created = assistant.json()
    assert (created["tools"], created["metadata"], created["tool_resources"]) == ([], {}, {})
    assert created["response_format"] == "auto"
    updated = api.post(f"/v1/assistants/{created['id']}", json={"tools": None, "metadata": None}, headers=HEADERS)
    assert updated.status_code == 200 and updated.json()["tools"] == []

    thread = api.post("/v1/threads", json={"messages": None, "tool_resources": None, "metadata": None}, headers=HEADERS)
    assert thread.status_code == 200, thread.text
    thread_id = thread.json()["id"]
    message = api.post(
        f"/v1/threads/{thread_id}/messages",
        json={"role": "user", "content": "hi", "attachments": None, "metadata": None},
        headers=HEADERS,
    )
    assert message.status_code == 200 and message.json()["attachments"] == []
    run_nulls = dict.fromkeys(
        (
            "model",
            "instructions",
            "additional_instructions",
            "additional_messages",
            "tools",
            "metadata",
            "temperature",
            "top_p",
            "stream",
            "max_prompt_tokens",
            "max_completion_tokens",
            "truncation_strategy",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "reasoning_effort",
        )
    )
    run = api.post(f"/v1/threads/{thread_id}/runs", json={"assistant_id": created["id"], **run_nulls}, headers=HEADERS)
    assert run.status_code == 200, run.text
    assert (run.json()["tools"], run.json()["tool_choice"], run.json()["model"]) == ([], "auto", "m")
    both = {"assistant_id": created["id"], "thread": None, "tool_resources": None, "tools": None, "metadata": None}
    assert api.post("/v1/threads/runs", json=both, headers=HEADERS).status_code == 200


@pytest.mark.parametrize(
    ("path", "raw", "param"),
    [
        ("/v1/assistants", b'{"model": "m", "name": "\\ud800"}', "name"),
        ("/v1/assistants", b'{"model": "m", "metadata": {"k": "x\\udfff"}}', "metadata.k"),
        ("/v1/assistants", b'{"model": "m", "metadata": {"\\ud83d": "v"}}', "metadata.\\ud83d"),
        ("/v1/assistants", b'{"model": "m", "tool_resources": {"code_interpreter": {"file_ids": ["\\udc00"]}}}', None),
        (
            "/v1/assistants",
            b'{"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"\\ud800": 1}}}]}',
            "tools[0].function.parameters.\\ud800",
        ),
        ("/v1/threads", b'{"messages": [{"role": "user", "content": "a\\ud800b"}]}', "messages[0].content"),
        (
            "/v1/threads",
            b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\udbff"}]}]}',
            "messages[0].content[0].text",
        ),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_where_it_is(
    api: TestClient, path: str, raw: bytes, param: str | None
) -> None:
    response = post_raw(api, path, raw)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_unicode"
    assert "lone UTF-16 surrogate" in error["message"]
    if param is not None:
        assert error["param"] == param
    assert api.get("/v1/assistants", headers=HEADERS).json()["data"] == []


def test_a_surrogate_pair_is_ordinary_text(api: TestClient) -> None:
    response = post_raw(api, "/v1/assistants", b'{"model": "m", "name": "\\ud83d\\ude00"}')
    assert response.status_code == 200 and response.json()["name"] == "\U0001f600"


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH, 200, 250, 280])
@pytest.mark.parametrize(
    "body",
    [
        lambda deep: {"model": "m", "tools": [function_tool(deep)]},
        lambda deep: {
            "model": "m",
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": deep}},
        },
        lambda deep: {"model": "m", "tool_resources": {"code_interpreter": deep}},
    ],
    ids=["function-parameters", "response-format-schema", "tool-resources"],
)
def test_json_nested_too_deep_is_refused_and_never_stored(api: TestClient, body: Any, levels: int) -> None:
    """The regression: such a body used to be stored, and from then on reading it, or listing the project's
    assistants, answered 500 for ever."""
    # The standard library, not orjson: orjson refuses to write JSON this deep.
    response = api.post("/v1/assistants", content=json.dumps(body(nested(levels))), headers=JSON_HEADERS)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "json_too_deep"
    assert f"at most {MAX_JSON_DEPTH} levels" in error["message"]
    listed = api.get("/v1/assistants", headers=HEADERS)
    assert listed.status_code == 200 and listed.json()["data"] == []


def test_json_too_deep_for_the_parser_is_a_400(api: TestClient) -> None:
    raw = b'{"model": "m", "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
    response = post_raw(api, "/v1/assistants", raw)
    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)["message"]


def test_the_deepest_body_accepted_is_read_back_everywhere_it_is_copied(api: TestClient) -> None:
    # tools[0].function.parameters sits at level 5 of the body; fill the rest up to the limit.
    deepest = {"model": "m", "tools": [function_tool(nested(MAX_JSON_DEPTH - 4))]}
    too_deep = {"model": "m", "tools": [function_tool(nested(MAX_JSON_DEPTH - 3))]}
    assert api.post("/v1/assistants", json=too_deep, headers=HEADERS).status_code == 400
    created = api.post("/v1/assistants", json=deepest, headers=HEADERS)
    assert created.status_code == 200, created.text
    assistant = created.json()
    assert api.get(f"/v1/assistants/{assistant['id']}", headers=HEADERS).json()["tools"] == deepest["tools"]
    assert [a["id"] for a in api.get("/v1/assistants", headers=HEADERS).json()["data"]] == [assistant["id"]]
    run = api.post("/v1/threads/runs", json={"assistant_id": assistant["id"]}, headers=HEADERS).json()
    read = api.get(f"/v1/threads/{run['thread_id']}/runs/{run['id']}", headers=HEADERS)
    assert read.status_code == 200 and read.json()["tools"] == deepest["tools"]
    listed = api.get(f"/v1/threads/{run['thread_id']}/runs", headers=HEADERS)
    assert listed.status_code == 200 and listed.json()["data"][0]["id"] == run["id"]
    cancelled = api.post(f"/v1/threads/{run['thread_id']}/runs/{run['id']}/cancel", headers=HEADERS)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("content", "param"),
    [
        ("x" * (MAX_TEXT_CHARS + 1), "content"),
        ([{"type": "text", "text": "x" * (MAX_TEXT_CHARS + 1)}], "content[0].text"),
    ],
)
def test_message_text_over_256000_characters_is_a_400(api: TestClient, content: Any, param: str) -> None:
    thread_id = api.post("/v1/threads", json={}, headers=HEADERS).json()["id"]
    url = f"/v1/threads/{thread_id}/messages"
    response = api.post(url, json={"role": "user", "content": content}, headers=HEADERS)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["code"]) == (param, "string_above_max_length")
    assert error["message"] == (
        f"Invalid '{param}': string too long. Expected a string with maximum length {MAX_TEXT_CHARS}, "
        f"but got a string with length {MAX_TEXT_CHARS + 1} instead."
    )
    exactly = api.post(url, json={"role": "user", "content": "y" * MAX_TEXT_CHARS}, headers=HEADERS)
    assert exactly.status_code == 200


def test_combined_tool_outputs_over_512_kib_are_a_400(api: TestClient) -> None:
    half = "o" * (MAX_TOOL_OUTPUTS_BYTES // 2)
    outputs = [{"tool_call_id": "call_1", "output": half}, {"tool_call_id": "call_2", "output": half + "!"}]
    response = api.post(
        "/v1/threads/thread_x/runs/run_x/submit_tool_outputs", json={"tool_outputs": outputs}, headers=HEADERS
    )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["code"]) == ("tool_outputs", "string_above_max_length")
    assert f"at most {MAX_TOOL_OUTPUTS_BYTES} bytes" in error["message"]


def test_limits_of_tools_and_tool_resources_name_the_param(api: TestClient) -> None:
    browser = api.post("/v1/assistants", json={"model": "m", "tools": [{"type": "browser"}]}, headers=HEADERS)
    assert error_of(browser)["message"] == (
        "Invalid 'tools[0].type': Invalid value: 'browser'. Supported values are: 'code_interpreter', "
        "'file_search' and 'function'."
    )
    too_many = {"model": "m", "tools": [{"type": "code_interpreter"}] * 129}
    error = error_of(api.post("/v1/assistants", json=too_many, headers=HEADERS))
    assert (error["param"], error["code"]) == ("tools", "array_above_max_length")
    files = {"model": "m", "tool_resources": {"code_interpreter": {"file_ids": [f"file-{i}" for i in range(21)]}}}
    error = error_of(api.post("/v1/assistants", json=files, headers=HEADERS))
    assert (error["param"], error["code"]) == ("tool_resources.code_interpreter.file_ids", "array_above_max_length")
    stores = {"model": "m", "tool_resources": {"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}}
    error = error_of(api.post("/v1/assistants", json=stores, headers=HEADERS))
    assert error["param"] == "tool_resources.file_search.vector_store_ids"
    thread_id = api.post("/v1/threads", json={}, headers=HEADERS).json()["id"]
    twenty_one = {"assistant_id": "asst_x", "tools": [{"type": "code_interpreter"}] * 21}
    error = error_of(api.post(f"/v1/threads/{thread_id}/runs", json=twenty_one, headers=HEADERS))
    assert (error["param"], error["code"]) == ("tools", "array_above_max_length")
    choice = {"assistant_id": "asst_x", "tool_choice": {"type": "function"}}
    error = error_of(api.post(f"/v1/threads/{thread_id}/runs", json=choice, headers=HEADERS))
    assert (error["param"], error["code"]) == ("tool_choice.function", "missing_required_parameter")
    extra = {"assistant_id": "asst_x", "tools": [{"type": "code_interpreter", "function": {"name": "f"}}]}
    error = error_of(api.post(f"/v1/threads/{thread_id}/runs", json=extra, headers=HEADERS))
    assert (error["param"], error["code"]) == ("tools[0].function", "unknown_parameter")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_400(api: TestClient, raw: bytes) -> None:
    response = post_raw(api, "/v1/assistants", raw)
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"].startswith("We could not parse the JSON body of your request.")
    assert error["param"] is None


def test_a_body_over_the_size_limit_is_a_413_in_the_envelope(make_api: MakeApi) -> None:
    api = make_api(max_request_bytes=4096)
    small = api.post("/v1/assistants", json={"model": "m", "instructions": "x" * 3000}, headers=HEADERS)
    assert small.status_code == 200
    response = api.post("/v1/assistants", json={"model": "m", "instructions": "x" * 5000}, headers=HEADERS)
    assert response.status_code == 413
    error = error_of(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")
    assert "at most 4096 bytes" in error["message"]
    assert response.headers["x-request-id"].startswith("req_")
    assert len(api.get("/v1/assistants", headers=HEADERS).json()["data"]) == 1


def test_a_chunked_body_over_the_limit_is_a_413(make_api: MakeApi) -> None:
    api = make_api(max_request_bytes=4096)
    chunks = [json.dumps({"model": "m", "instructions": "x" * 6000}).encode()]
    response = api.post("/v1/assistants", content=iter(chunks), headers=JSON_HEADERS)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"


def test_a_method_a_path_does_not_serve_is_a_405_with_allow(api: TestClient) -> None:
    response = api.put("/v1/assistants", headers=HEADERS)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert error_of(response)["message"] == "Method PUT is not allowed on /v1/assistants. Allowed: GET, POST."
    one = api.patch("/v1/threads/thread_x/messages/msg_x", headers=HEADERS)
    assert (one.status_code, one.headers["allow"]) == (405, "GET, POST, DELETE")


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (
            b'{"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": 1'
            + b"0" * 30
            + b"}}}]}",
            "tools[0].function.parameters.x",
        ),
        (b'{"model": "m", "temperature": NaN}', "temperature"),
        (
            b'{"model": "m", "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": '
            b'{"max": -Infinity}}}}',
            "response_format.json_schema.schema.max",
        ),
    ],
)
def test_numbers_orjson_cannot_write_are_a_400(api: TestClient, raw: bytes, param: str) -> None:
    """Such a number used to be stored, and every later answer that held it (the list too) was a 500."""
    response = post_raw(api, "/v1/assistants", raw)
    assert response.status_code == 400
    assert (error_of(response)["param"], error_of(response)["code"]) == (param, "invalid_number")
    assert api.get("/v1/assistants", headers=HEADERS).status_code == 200


def test_unknown_keys_inside_tools_and_formats_are_refused(api: TestClient) -> None:
    extra = {"model": "m", "response_format": {"type": "text", "colour": "blue"}}
    error = error_of(api.post("/v1/assistants", json=extra, headers=HEADERS))
    assert (error["param"], error["code"]) == ("response_format.colour", "unknown_parameter")
    nested = {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parmeters": {}}}]}
    error = error_of(api.post("/v1/assistants", json=nested, headers=HEADERS))
    assert error["param"] == "tools[0].function.parmeters"
    assert (
        error["message"] == "Invalid 'tools[0].function.parmeters': Unrecognized request argument supplied: parmeters"
    )
