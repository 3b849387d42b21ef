"""API keys select projects that cannot see each other; request validation answers with OpenAI's 4xx shapes."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.helpers import MODEL, error_message, make_assistant
from tests.stack import KEY_A, Stack

pytestmark = pytest.mark.e2e


def test_objects_of_one_project_are_404_for_another(client: openai.OpenAI, client_b: openai.OpenAI) -> None:
    assistant = make_assistant(client, name="project-a-only")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "private"}])
    assert client.beta.assistants.retrieve(assistant.id).id == assistant.id

    with pytest.raises(openai.NotFoundError) as error:
        client_b.beta.assistants.retrieve(assistant.id)
    assert error_message(error.value) == f"No assistant found with id '{assistant.id}'."
    with pytest.raises(openai.NotFoundError):
        client_b.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):
        client_b.beta.threads.messages.list(thread_id=thread.id)
    with pytest.raises(openai.NotFoundError):
        client_b.beta.threads.messages.create(thread_id=thread.id, role="user", content="intrusion")
    own = make_assistant(client_b, name="project-b")
    with pytest.raises(openai.NotFoundError):
        client_b.beta.threads.runs.create(thread_id=thread.id, assistant_id=own.id)
    with pytest.raises(openai.NotFoundError):
        client_b.beta.assistants.delete(assistant.id)

    assert assistant.id not in {a.id for a in client_b.beta.assistants.list(limit=100)}
    assert own.id not in {a.id for a in client.beta.assistants.list(limit=100)}
    # Project A's objects are untouched by B's attempts.
    assert client.beta.assistants.retrieve(assistant.id).name == "project-a-only"
    assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 1


def test_missing_api_key_is_401(stack: Stack) -> None:
    response = httpx.get(f"{stack.base_url}/assistants", headers={"OpenAI-Beta": "assistants=v2"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_api_key_is_401(stack: Stack) -> None:
    with stack.client("sk-not-a-key") as stranger, pytest.raises(openai.AuthenticationError) as error:
        stranger.beta.assistants.list()
    assert error.value.status_code == 401
    assert error.value.code == "invalid_api_key"


def test_seventeen_metadata_keys_are_400(client: openai.OpenAI) -> None:
    metadata = {f"k{i}": "v" for i in range(17)}
    with pytest.raises(openai.BadRequestError) as error:
        client.beta.assistants.create(model=MODEL, metadata=metadata)
    assert error.value.code == "object_above_max_properties"
    assert error.value.param == "metadata"
    assert error.value.type == "invalid_request_error"
    assert "at most 16 properties, but got 17" in error.value.message
    # Sixteen are fine.
    sixteen = {f"k{i}": "v" for i in range(16)}
    assert client.beta.assistants.create(model=MODEL, metadata=sixteen).metadata == sixteen


def test_missing_beta_header_is_400(stack: Stack) -> None:
    response = httpx.get(f"{stack.base_url}/assistants", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_beta"
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None
    assert "OpenAI-Beta: assistants=v2" in error["message"]


def test_unknown_ids_are_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as error:
        client.beta.assistants.retrieve("asst_doesnotexist")
    assert error_message(error.value) == "No assistant found with id 'asst_doesnotexist'."
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve("run_doesnotexist", thread_id=thread.id)
