"""file_search resources on assistants, threads and messages: ids checked, the inline helper, attachment stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.domain.requests import (
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    RunCreate,
    ThreadAndRunCreate,
    ThreadCreate,
    ThreadUpdate,
)
from orchestrator.errors import InvalidRequest
from orchestrator.files.service import create_file
from orchestrator.files.storage.local import LocalStorage
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from orchestrator.vector_stores.service import get_files
from tests.support import RecordingDispatcher

IDS = "tool_resources.file_search.vector_store_ids"


def upload(store: RedisStore, tmp_path: Path, name: str = "a.txt") -> str:
    return create_file(store, LocalStorage(tmp_path), "p", filename=name, purpose="assistants", data=b"Some text.").id


def search_ids(resources: dict[str, object]) -> list[str]:
    found = resources["file_search"]
    assert isinstance(found, dict)
    ids: list[str] = found["vector_store_ids"]
    return ids


def test_unknown_or_foreign_vector_stores_are_refused_naming_the_param(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    resources = {"file_search": {"vector_store_ids": ["vs_nope"]}}
    with pytest.raises(InvalidRequest) as refused:
        assistants.create(store, "p", AssistantCreate(model="m", tool_resources=resources), dispatcher)
    assert refused.value.param == IDS
    with pytest.raises(InvalidRequest) as refused:
        threads.create_thread(store, "p", ThreadCreate(tool_resources=resources), dispatcher)
    assert refused.value.param == IDS
    assert store.all_ids(store.keys.assistants("p")) == []

    helper = {"file_search": {"vector_stores": [{"file_ids": [upload(store, tmp_path)]}]}}
    theirs = threads.create_thread(store, "q-other", None)
    mine = threads.create_thread(store, "p", ThreadCreate(tool_resources=helper), dispatcher)
    with pytest.raises(InvalidRequest):  # the store is project p's: project q cannot name it
        threads.update_thread(store, "q-other", theirs.id, ThreadUpdate(tool_resources=mine.tool_resources))


def test_the_inline_helper_becomes_a_store_whose_files_are_ingested(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    file_id = upload(store, tmp_path)
    helper = {"file_search": {"vector_stores": [{"file_ids": [file_id], "metadata": {"k": "v"}}]}}
    thread = threads.create_thread(store, "p", ThreadCreate(tool_resources=helper), dispatcher)
    (vs_id,) = search_ids(thread.tool_resources)
    assert "vector_stores" not in thread.tool_resources["file_search"]
    assert dispatcher.ingests == [("p", vs_id, file_id)]
    assistant = assistants.create(
        store, "p", AssistantCreate(model="m", tool_resources={"file_search": {"vector_store_ids": [vs_id]}})
    )
    assert search_ids(assistant.tool_resources) == [vs_id]
    updated = assistants.update(store, "p", assistant.id, AssistantUpdate(tool_resources=helper), dispatcher)
    (other,) = search_ids(updated.tool_resources)
    assert other != vs_id and len(dispatcher.ingests) == 2


def test_file_search_attachments_go_to_the_threads_own_store(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    first, second, code_only = (upload(store, tmp_path, n) for n in ("a.txt", "b.md", "c.csv"))
    searched = [{"type": "file_search"}]
    message = MessageCreate(
        role="user",
        content="hi",
        attachments=[
            {"file_id": first, "tools": searched},
            {"file_id": code_only, "tools": [{"type": "code_interpreter"}]},
        ],
    )
    thread = threads.create_thread(store, "p", ThreadCreate(messages=[message]), dispatcher)
    (vs_id,) = search_ids(thread.tool_resources)
    assert [f.id for f in get_files(store, "p", vs_id, [first, code_only]) if f] == [first]

    later = MessageCreate(role="user", content="more", attachments=[{"file_id": second, "tools": searched}])
    threads.add_message(store, "p", thread.id, later, dispatcher)
    assert search_ids(threads.get_thread(store, "p", thread.id).tool_resources) == [vs_id]
    assert [ingest[1:] for ingest in dispatcher.ingests] == [(vs_id, first), (vs_id, second)]


def test_a_runs_additional_messages_and_a_new_runs_thread_attach_too(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    file_id = upload(store, tmp_path)
    attachment = {"file_id": file_id, "tools": [{"type": "file_search"}]}
    assistant = assistants.create(store, "p", AssistantCreate(model="m", tools=[{"type": "file_search"}]))
    thread = threads.create_thread(store, "p", None)
    extra = MessageCreate(role="user", content="q?", attachments=[attachment])
    runs.create_run(
        store,
        dispatcher,
        "p",
        thread.id,
        RunCreate(assistant_id=assistant.id, additional_messages=[extra]),
        expiry_s=60,
    )
    (vs_id,) = search_ids(threads.get_thread(store, "p", thread.id).tool_resources)
    assert dispatcher.ingests == [("p", vs_id, file_id)]

    both = ThreadAndRunCreate(assistant_id=assistant.id, thread=ThreadCreate(messages=[extra]))
    made, _ = runs.create_thread_and_run(store, dispatcher, "p", both, expiry_s=60)
    (own,) = search_ids(made.tool_resources)
    assert own != vs_id and dispatcher.ingests[-1] == ("p", own, file_id)
