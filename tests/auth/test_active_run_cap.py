"""The per-project cap on active runs, kept by commit.lua: checked when a run takes its thread, freed by every way
a run ends (completed, failed, cancelled, expired), so the count cannot drift. Fakeredis and a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate, ThreadAndRunCreate, ThreadCreate
from orchestrator.domain.status import RunStatus
from orchestrator.domain.transitions import RunEvent
from orchestrator.errors import TooManyActiveRuns
from orchestrator.services import assistants, runs, threads
from orchestrator.services.ledger import RunLedger
from orchestrator.store import Keys, RedisStore
from orchestrator.sweeper import sweep_once
from tests.support import RecordingDispatcher

CAP = 2


@pytest.fixture
def capped(redis_client: redis.Redis, keys: Keys) -> Iterator[RedisStore]:
    yield RedisStore(redis_client, keys, max_active_runs=CAP)
    doomed = list(redis_client.scan_iter(match=f"{keys.prefix}:*", count=1000))
    if doomed:
        redis_client.delete(*doomed)


def start(store: RedisStore, project: str = "p") -> tuple[str, str]:
    assistant = assistants.create(store, project, AssistantCreate(model="gpt-4o"))
    thread = threads.create_thread(store, project, None)
    started = runs.create_run(
        store, RecordingDispatcher(), project, thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600
    )
    return thread.id, started.run.id


def complete(store: RedisStore, thread_id: str, run_id: str) -> None:
    ledger = RunLedger(store, "p", thread_id, run_id)
    ledger.transition(RunEvent.START)
    ledger.transition(RunEvent.COMPLETE)


def fail(store: RedisStore, thread_id: str, run_id: str) -> None:
    RunLedger(store, "p", thread_id, run_id).transition(RunEvent.FAIL)


def cancel(store: RedisStore, thread_id: str, run_id: str) -> None:
    runs.cancel_run(store, RecordingDispatcher(), "p", thread_id, run_id)


def expire(store: RedisStore, thread_id: str, run_id: str) -> None:
    run = runs.get_run(store, "p", thread_id, run_id)
    if run.expires_at is not None:  # one sweep expires every run that is due, so it may be done already
        sweep_once(store, now=run.expires_at + 1)
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.EXPIRED


def test_a_run_over_the_cap_is_refused_and_nothing_is_written(capped: RedisStore) -> None:
    start(capped)
    start(capped)
    assistant = assistants.create(capped, "p", AssistantCreate(model="gpt-4o"))
    thread = threads.create_thread(capped, "p", None)
    with pytest.raises(TooManyActiveRuns) as refused:
        runs.create_run(
            capped, RecordingDispatcher(), "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600
        )
    assert (refused.value.active, refused.value.cap, refused.value.code) == (CAP, CAP, "too_many_active_runs")
    assert capped.active_run_id("p", thread.id) is None
    assert capped.all_ids(capped.keys.runs("p", thread.id)) == []
    start(capped, project="other")  # another project has a cap of its own


@pytest.mark.parametrize("end", [complete, fail, cancel, expire], ids=["completed", "failed", "cancelled", "expired"])
def test_every_way_a_run_ends_frees_its_place(capped: RedisStore, end: Callable[[RedisStore, str, str], None]) -> None:
    for _ in range(3):  # the same place is taken and given back, so nothing accumulates
        first = start(capped)
        start_second = start(capped)
        end(capped, *first)
        end(capped, *start_second)
    assert capped.client.zcard(capped.keys.active_runs("p")) == 0
    start(capped)
    start(capped)


def test_a_leftover_long_past_its_expiry_is_not_counted(capped: RedisStore) -> None:
    # A run whose thread was deleted while it was active never releases its place; it must not hold it forever.
    capped.client.zadd(capped.keys.active_runs("p"), {"run_gone1": 1_000, "run_gone2": 2_000})
    start(capped)
    start(capped)
    assert capped.client.zcard(capped.keys.active_runs("p")) == CAP


def test_a_thread_and_run_the_cap_refuses_leaves_no_thread(capped: RedisStore) -> None:
    for _ in range(CAP):
        start(capped)
    assistant = assistants.create(capped, "p", AssistantCreate(model="gpt-4o"))
    body = ThreadAndRunCreate(
        assistant_id=assistant.id, thread=ThreadCreate(messages=[MessageCreate(role="user", content="Hi")])
    )
    before = set(capped.client.scan_iter(match=f"{capped.keys.prefix}:*", count=1000))
    with pytest.raises(TooManyActiveRuns):
        runs.create_thread_and_run(capped, RecordingDispatcher(), "p", body, expiry_s=600)
    # The thread and its message go with the commit that would have started the run: nothing of them is written
    # (only the sweeper's look, scheduled before, which it drops for a run that does not exist).
    written = set(capped.client.scan_iter(match=f"{capped.keys.prefix}:*", count=1000)) - before
    assert [key for key in written if "{thread_" in key] == []


def test_a_thread_and_run_writes_the_thread_and_its_messages_with_the_run(capped: RedisStore) -> None:
    assistant = assistants.create(capped, "p", AssistantCreate(model="gpt-4o"))
    body = ThreadAndRunCreate(
        assistant_id=assistant.id, thread=ThreadCreate(messages=[MessageCreate(role="user", content="Hi")])
    )
    thread, started = runs.create_thread_and_run(capped, RecordingDispatcher(), "p", body, expiry_s=600)
    assert threads.get_thread(capped, "p", thread.id) == thread
    messages = capped.get_messages("p", thread.id, capped.all_ids(capped.keys.messages("p", thread.id)))
    assert [m.content[0]["text"]["value"] for m in messages] == ["Hi"]
    assert started.run.thread_id == thread.id
    assert capped.client.zscore(capped.keys.active_runs("p"), started.run.id) is not None
