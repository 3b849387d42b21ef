"""Image parts reach the model as Chat Completions image parts (an image_file as a data URL of its bytes, read
through storage), and the mock model says what it saw."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from orchestrator.domain.models import Message
from orchestrator.files.images import ImageReader
from orchestrator.files.service import create_file, delete_file
from orchestrator.files.storage.local import LocalStorage
from orchestrator.mockmodel.script import Answer, decide
from orchestrator.store import RedisStore
from workers.executor.context import chat_message

PNG = b"\x89PNG\r\n\x1a\n-tiny"


def user_message(*parts: dict[str, Any], role: str = "user") -> Message:
    return Message(id="msg_1", created_at=0, thread_id="thread_1", role=role, content=list(parts))


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def test_image_parts_become_chat_image_parts(store: RedisStore, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    file = create_file(store, storage, "p", filename="cat.png", purpose="vision", data=PNG)
    reader = ImageReader(store, storage)
    message = user_message(
        text("What is in these?"),
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg", "detail": "low"}},
        {"type": "image_file", "image_file": {"file_id": file.id}},
    )
    assert chat_message(message, lambda file_id: reader.data_url("p", file_id)) == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
        ],
    }
    # Once the file is deleted (or for another project) the model is told an image was there, not given bytes.
    assert reader.data_url("other", file.id) is None
    delete_file(store, storage, "p", file.id)
    rendered = chat_message(message, lambda file_id: reader.data_url("p", file_id))
    assert rendered["content"][2] == {"type": "text", "text": f"[image file: {file.id}]"}


def test_text_only_and_assistant_messages_stay_strings() -> None:
    plain = user_message(text("a"), text("b"))
    said = user_message(text("look"), {"type": "image_url", "image_url": {"url": "https://x/y.png"}}, role="assistant")
    assert [chat_message(plain), chat_message(said)] == [
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "look\n[image: https://x/y.png]"},
    ]


def test_the_mock_says_which_images_it_saw() -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}},
                {"type": "image_url", "image_url": {"url": data_url}},
            ],
        }
    ]
    answer = decide(messages)
    assert isinstance(answer, Answer)
    assert answer.content == (
        f"I see 2 image(s): https://example.com/dog.jpg, {len(PNG)} bytes of image/png. You said: Describe"
    )
    plain = decide([{"role": "user", "content": "Describe"}])
    assert isinstance(plain, Answer) and plain.content == "You said: Describe"
