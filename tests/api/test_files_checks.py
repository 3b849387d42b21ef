"""File ids named anywhere in a request must be the caller's project's files: 400 naming the exact param, with
nothing written. tool_choice must name one of the run's tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY, HEADERS, MakeApi
from tests.support import RecordingDispatcher

OTHER = "sk-other-project"
OTHER_HEADERS = {**HEADERS, "Authorization": f"Bearer {OTHER}"}
MISSING = "file-doesnotexist"


@pytest.fixture
def api(make_api: MakeApi, tmp_path: Path) -> TestClient:
    return make_api(files_dir=str(tmp_path), api_keys=f"{API_KEY}=proj,{OTHER}=other")


def upload(api: TestClient, headers: dict[str, str] = HEADERS) -> str:
    reply = api.post("/v1/files", headers=headers, files={"file": ("a.png", b"\x89PNG")}, data={"purpose": "vision"})
    file_id: str = reply.json()["id"]
    return file_id


def assistant(api: TestClient, **fields: Any) -> str:
    reply = api.post("/v1/assistants", headers=HEADERS, json={"model": "gpt-4o", **fields})
    assert reply.status_code == 200, reply.text
    assistant_id: str = reply.json()["id"]
    return assistant_id


def assert_names(reply: Any, param: str, file_id: str = MISSING) -> None:
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param
    assert error["message"] == f"No file found with id '{file_id}'."
    assert error["type"] == "invalid_request_error"


def message(file_id: str, *, image: bool = False) -> dict[str, Any]:
    if image:
        return {"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": file_id}}]}
    return {"role": "user", "content": "hi", "attachments": [{"file_id": file_id, "tools": [{"type": "file_search"}]}]}


def test_every_place_a_file_id_goes(api: TestClient) -> None:
    mine = upload(api)
    code = {"code_interpreter": {"file_ids": [mine, MISSING]}}
    assert_names(
        api.post("/v1/assistants", headers=HEADERS, json={"model": "m", "tool_resources": code}),
        "tool_resources.code_interpreter.file_ids[1]",
    )
    asst = assistant(api)
    assert_names(
        api.post(f"/v1/assistants/{asst}", headers=HEADERS, json={"tool_resources": code}),
        "tool_resources.code_interpreter.file_ids[1]",
    )
    assert_names(
        api.post("/v1/threads", headers=HEADERS, json={"messages": [message(mine), message(MISSING)]}),
        "messages[1].attachments[0].file_id",
    )
    assert_names(
        api.post("/v1/threads", headers=HEADERS, json={"messages": [message(MISSING, image=True)]}),
        "messages[0].content[0].image_file.file_id",
    )
    helper = {"file_search": {"vector_stores": [{"file_ids": [MISSING]}]}}
    assert_names(
        api.post("/v1/threads", headers=HEADERS, json={"tool_resources": helper}),
        "tool_resources.file_search.vector_stores[0].file_ids[0]",
    )
    thread = api.post("/v1/threads", headers=HEADERS, json={"messages": [message(mine), message(mine, image=True)]})
    assert thread.status_code == 200, thread.text
    thread_id = thread.json()["id"]
    assert_names(
        api.post(f"/v1/threads/{thread_id}", headers=HEADERS, json={"tool_resources": code}),
        "tool_resources.code_interpreter.file_ids[1]",
    )
    assert_names(
        api.post(f"/v1/threads/{thread_id}/messages", headers=HEADERS, json=message(MISSING)),
        "attachments[0].file_id",
    )
    assert_names(
        api.post(
            f"/v1/threads/{thread_id}/runs",
            headers=HEADERS,
            json={"assistant_id": asst, "additional_messages": [message(MISSING, image=True)]},
        ),
        "additional_messages[0].content[0].image_file.file_id",
    )
    assert_names(
        api.post(
            "/v1/threads/runs",
            headers=HEADERS,
            json={"assistant_id": asst, "thread": {"messages": [message(MISSING)]}},
        ),
        "thread.messages[0].attachments[0].file_id",
    )
    assert_names(
        api.post(
            "/v1/threads/runs",
            headers=HEADERS,
            json={"assistant_id": asst, "thread": {"tool_resources": code}},
        ),
        "thread.tool_resources.code_interpreter.file_ids[1]",
    )
    # Nothing was written by the refused requests: the thread still holds its two messages, no run was made.
    listed = api.get(f"/v1/threads/{thread_id}/messages", headers=HEADERS).json()["data"]
    assert len(listed) == 2
    assert api.get(f"/v1/threads/{thread_id}/runs", headers=HEADERS).json()["data"] == []


def test_another_projects_file_is_unknown(api: TestClient) -> None:
    theirs = upload(api, {"Authorization": f"Bearer {OTHER}"})
    assert_names(
        api.post("/v1/threads", headers=HEADERS, json={"messages": [message(theirs)]}),
        "messages[0].attachments[0].file_id",
        theirs,
    )
    assert api.post("/v1/threads", headers=OTHER_HEADERS, json={"messages": [message(theirs)]}).status_code == 200


@pytest.mark.parametrize(
    ("tools", "choice", "ok"),
    [
        ([], {"type": "code_interpreter"}, False),
        ([{"type": "file_search"}], {"type": "code_interpreter"}, False),
        ([{"type": "code_interpreter"}], {"type": "code_interpreter"}, True),
        ([{"type": "function", "function": {"name": "f"}}], {"type": "function", "function": {"name": "g"}}, False),
        ([{"type": "function", "function": {"name": "f"}}], {"type": "function", "function": {"name": "f"}}, True),
        ([], "required", True),
    ],
)
def test_tool_choice_must_name_a_tool_of_the_run(
    make_api: MakeApi, tools: list[dict[str, Any]], choice: Any, ok: bool
) -> None:
    dispatcher = RecordingDispatcher()
    api = make_api(dispatcher=dispatcher)
    asst = assistant(api, tools=tools)
    thread_id = api.post("/v1/threads", headers=HEADERS).json()["id"]
    reply = api.post(
        f"/v1/threads/{thread_id}/runs", headers=HEADERS, json={"assistant_id": asst, "tool_choice": choice}
    )
    both = api.post("/v1/threads/runs", headers=HEADERS, json={"assistant_id": asst, "tool_choice": choice})
    if ok:
        assert (reply.status_code, both.status_code) == (200, 200), reply.text
        return
    for refused in (reply, both):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["param"] == "tool_choice"
    assert dispatcher.runs == []
    # A run's own tools override the assistant's: naming one of them is fine.
    override = api.post(
        f"/v1/threads/{thread_id}/runs",
        headers=HEADERS,
        json={"assistant_id": asst, "tool_choice": choice, "tools": [_tool_for(choice)]},
    )
    assert override.status_code == 200, override.text


def _tool_for(choice: dict[str, Any]) -> dict[str, Any]:
    if choice["type"] == "function":
        return {"type": "function", "function": {"name": choice["function"]["name"]}}
    return {"type": choice["type"]}
