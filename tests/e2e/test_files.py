"""Files through the official SDK against `orchestrator up`: upload, list, retrieve, download, delete, the size
limit, isolation between projects, the models list, images reaching the model, and a thread's deletion taking
everything it held."""

from __future__ import annotations

import base64
from pathlib import Path

import openai
import pytest
import redis

from orchestrator.settings import Settings
from tests.e2e.helpers import make_assistant, message_text
from tests.stack import Stack

pytestmark = pytest.mark.e2e

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def test_upload_list_retrieve_download_delete(client: openai.OpenAI, stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_bytes(b"# Report\n\nThe launch code is 7741.\n")
    with path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="assistants")
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose, uploaded.status) == (
        "report.md",
        path.stat().st_size,
        "assistants",
        "processed",
    )
    assert client.files.retrieve(uploaded.id) == uploaded
    assert client.files.wait_for_processing(uploaded.id).status == "processed"
    assert uploaded.id in [f.id for f in client.files.list(purpose="assistants")]
    assert uploaded.id not in [f.id for f in client.files.list(purpose="vision")]
    content = client.files.content(uploaded.id)
    assert content.read() == path.read_bytes()
    assert content.response.headers["content-type"].startswith("text/markdown")
    stored = stack.data_dir / "files"  # `up` keeps the bytes under its --data-dir
    assert [p.read_bytes() for p in stored.rglob(uploaded.id)] == [path.read_bytes()]

    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted) == (uploaded.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)
    assert list(stored.rglob(uploaded.id)) == []


def test_a_file_over_the_limit_is_refused_with_413(client: openai.OpenAI) -> None:
    limit = Settings.model_fields["max_file_bytes"].default
    with pytest.raises(openai.APIStatusError) as refused:
        client.with_options(max_retries=0).files.create(file=("big.bin", b"\0" * (limit + 1)), purpose="assistants")
    assert refused.value.status_code == 413
    assert "File is too large" in str(refused.value.body)
    assert "big.bin" not in [f.filename for f in client.files.list()]


def test_another_project_cannot_see_or_touch_a_file(client: openai.OpenAI, client_b: openai.OpenAI) -> None:
    mine = client.files.create(file=("secret.txt", b"only project A"), purpose="assistants")
    for attempt in (client_b.files.retrieve, client_b.files.content, client_b.files.delete):
        with pytest.raises(openai.NotFoundError):
            attempt(mine.id)
    assert mine.id not in [f.id for f in client_b.files.list()]
    # Nor can B name it in its own objects.
    with pytest.raises(openai.BadRequestError) as refused:
        client_b.beta.threads.create(
            messages=[{"role": "user", "content": "hi", "attachments": [{"file_id": mine.id, "tools": []}]}]
        )
    assert refused.value.body["param"] == "messages[0].attachments[0].file_id"  # type: ignore[index]
    assert client.files.content(mine.id).read() == b"only project A"


def test_models_list_the_upstreams_and_the_assistants(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="my-tuned-model", name="models e2e")
    ids = [m.id for m in client.models.list()]
    assert "mock" in ids, "the upstream's /models"
    assert "my-tuned-model" in ids, "an assistant's model"
    assert client.models.retrieve("my-tuned-model").object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    client.beta.assistants.delete(assistant.id)


def test_image_parts_reach_the_model(client: openai.OpenAI) -> None:
    image = client.files.create(file=("dot.png", PNG), purpose="vision")
    assistant = make_assistant(client, name="vision")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What do you see?"},
                    {"type": "image_file", "image_file": {"file_id": image.id}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
                ],
            }
        ]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed", run.last_error
    (answer,) = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    assert message_text(answer) == (
        f"I see 2 image(s): {len(PNG)} bytes of image/png, https://example.com/cat.jpg. You said: What do you see?"
    )


def test_deleting_a_thread_takes_everything_it_held(client: openai.OpenAI, stack: Stack) -> None:
    assistant = make_assistant(client, name="cascade")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100)
    assert run.status == "completed"
    assert client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id).data
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        held = list(r.scan_iter(match=f"{stack.key_prefix}:*{thread.id}*"))
        assert any(":events" in k for k in held) and any(":step:" in k for k in held)
        assert client.beta.threads.delete(thread.id).deleted
        assert list(r.scan_iter(match=f"{stack.key_prefix}:*{thread.id}*")) == []
    finally:
        r.close()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
