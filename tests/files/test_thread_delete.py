"""Deleting a thread removes everything it holds (messages, runs, steps, tool outputs, event logs, the sweeper's
entries) and cancels a run still active on it; other threads are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate, ThreadCreate
from orchestrator.domain.status import RunStatus
from orchestrator.errors import NotFound
from orchestrator.files.service import create_file
from orchestrator.files.storage.local import LocalStorage
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from orchestrator.store.keys import expiry_member
from orchestrator.vector_stores import service as vector_stores
from orchestrator.vector_stores.requests import VectorStoreCreate
from tests.support import RecordingDispatcher, ScriptedModel, call_turn
from workers.executor.loop import RunExecutor

FUNCTION = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def keys_of(store: RedisStore, thread_id: str) -> list[str]:
    return sorted(k for k in store.client.scan_iter(match=f"{store.keys.prefix}:*") if thread_id in k)


def thread_with_run(store: RedisStore, dispatcher: RecordingDispatcher) -> tuple[str, str]:
    assistant = assistants.create(store, "p", AssistantCreate(model="m", tools=[FUNCTION]))
    thread = threads.create_thread(store, "p", None)
    threads.add_message(store, "p", thread.id, MessageCreate(role="user", content="Hello?"))
    run = runs.create_run(store, dispatcher, "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    return thread.id, run.run.id


def test_a_thread_goes_whole_and_its_active_run_is_cancelled(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    thread_id, run_id = thread_with_run(store, dispatcher)
    _, token = dispatcher.runs[-1][2:]
    model = ScriptedModel([call_turn(("lookup", "{}"))])
    assert RunExecutor(store, model, dispatcher, max_turns=4).execute("p", thread_id, run_id, token) == (
        "requires_action"
    )
    store.client.rpush(store.keys.code_cells("p", thread_id), "x = 1")  # a code session, as the pool keeps it
    store.client.hset(store.keys.code_files("p", thread_id), "sandbox:/mnt/data/a.csv", "file-1")
    kept_thread, kept_run = thread_with_run(store, dispatcher)
    kept_keys = keys_of(store, kept_thread)
    # The run is waiting on the client: it has steps, an event log, and entries in the sweeper's sets.
    assert store.all_ids(store.keys.steps("p", thread_id, run_id))
    assert store.events("p", thread_id, run_id)
    cancels: list[str] = []
    pubsub = store.client.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(store.keys.run_channel(run_id))
    pubsub.get_message(timeout=1)  # the subscribe confirmation

    threads.delete_thread(store, "p", thread_id, dispatcher)

    while (message := pubsub.get_message(timeout=0.5)) is not None:
        cancels.append(str(message["data"]))
    pubsub.close()
    assert any("cancelled" in data for data in cancels), "the run was cancelled before it went"
    assert keys_of(store, thread_id) == []
    member = expiry_member("p", thread_id, run_id)
    assert store.client.zscore(store.keys.expiring(member), member) is None
    assert store.client.zscore(store.keys.leases(member), member) is None
    assert store.client.zscore(store.keys.active_runs("p"), run_id) is None
    with pytest.raises(NotFound):
        threads.get_thread(store, "p", thread_id)
    # The other thread and its queued run are untouched.
    assert keys_of(store, kept_thread) == kept_keys
    assert runs.get_run(store, "p", kept_thread, kept_run).status is RunStatus.QUEUED


def test_deleting_an_unknown_thread_is_not_found(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    with pytest.raises(NotFound):
        threads.delete_thread(store, "p", "thread_nope", dispatcher)


def test_the_thread_s_own_vector_store_goes_with_it_and_a_shared_one_stays(
    store: RedisStore, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    storage = LocalStorage(tmp_path)
    document = create_file(store, storage, "p", filename="a.txt", purpose="assistants", data=b"hello")
    shared = vector_stores.create_vector_store(store, dispatcher, "p", VectorStoreCreate.model_validate({}))
    listed = threads.create_thread(
        store, "p", ThreadCreate.model_validate({"tool_resources": {"file_search": {"vector_store_ids": [shared.id]}}})
    )
    plain = threads.create_thread(store, "p", None)
    own = vector_stores.thread_store(store, dispatcher, "p", plain.id, [document.id])
    assert own != shared.id

    threads.delete_thread(store, "p", plain.id, dispatcher)
    threads.delete_thread(store, "p", listed.id, dispatcher)

    with pytest.raises(NotFound):
        vector_stores.get_vector_store(store, "p", own)
    assert vector_stores.get_vector_store(store, "p", shared.id).id == shared.id  # the user's store is theirs
