"""Reads of a run outside the executor: the public object alone, one field of the run's hash."""

from __future__ import annotations

import pytest

from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate
from orchestrator.errors import NotFound
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher


def test_get_run_reads_the_public_object_as_the_executor_sees_it(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    assistant = assistants.create(store, "p", AssistantCreate(model="m"))
    thread = threads.create_thread(store, "p", None)
    threads.add_message(store, "p", thread.id, MessageCreate(role="user", content="hi"))
    started = runs.create_run(store, dispatcher, "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    record = store.get_run("p", thread.id, started.run.id)
    assert record is not None
    assert runs.get_run(store, "p", thread.id, started.run.id) == record.run == started.run


def test_a_run_hash_without_its_document_is_not_a_run(store: RedisStore) -> None:
    with pytest.raises(NotFound):
        runs.get_run(store, "p", "thread_1", "run_missing")
    store.client.hset(store.keys.run("p", "thread_1", "run_half"), "lease", "1")  # a late lease write, say
    with pytest.raises(NotFound):
        runs.get_run(store, "p", "thread_1", "run_half")
    assert store.get_run("p", "thread_1", "run_half") is None
