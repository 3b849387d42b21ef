"""The sweeper skips and reports a due run it cannot process instead of stalling on it: each pass reads only the
earliest due runs, so before, a hundred unreadable runs at the head of the index kept every other run from ever
expiring. Fakeredis and a real server."""

from __future__ import annotations

import json

import structlog
from prometheus_client import REGISTRY

from orchestrator.domain.requests import AssistantCreate, RunCreate
from orchestrator.domain.status import RunStatus
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from orchestrator.store.keys import expiry_member
from orchestrator.sweeper import SKIPPED_RUN_RETRY_S, sweep_once
from tests.support import RecordingDispatcher

PASS_SIZE = 100  # what `store.expiring_runs` reads per pass


def skipped_total() -> float:
    return REGISTRY.get_sample_value("orchestrator_sweeper_skipped_runs_total") or 0.0


def plant_unreadable_runs(store: RedisStore, due_at: int) -> list[str]:
    """Runs in the expiring index whose records no longer parse: broken JSON, JSON nested past what pydantic
    reads back (what deep request bodies used to store), and an index member that names no run at all."""
    members = []
    deep = "[" * 250 + "]" * 250
    for i in range(PASS_SIZE):
        thread_id, run_id = f"thread_bad{i}", f"run_bad{i}"
        doc = "{not json" if i % 2 else json.dumps({"id": run_id, "tools": "TOOLS"}).replace('"TOOLS"', deep)
        store.client.hset(store.keys.run("p", thread_id, run_id), mapping={"doc": doc, "status": "queued"})
        members.append(expiry_member("p", thread_id, run_id))
    members[0] = "not-a-member"
    for member in members:
        store.client.zadd(store.keys.expiring(member), {member: due_at})
    return members


def test_unreadable_runs_are_skipped_reported_and_retried_later(store: RedisStore) -> None:
    assistant = assistants.create(store, "p", AssistantCreate(model="m"))
    thread = threads.create_thread(store, "p", None)
    good = runs.create_run(
        store, RecordingDispatcher(), "p", thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600
    ).run
    assert good.expires_at is not None
    now = good.expires_at + 1
    broken = plant_unreadable_runs(store, due_at=good.expires_at - 100)  # due first: the head of the index
    before = skipped_total()

    with structlog.testing.capture_logs() as logs:
        first = sweep_once(store, now=now)
        second = sweep_once(store, now=now)

    assert skipped_total() - before == PASS_SIZE
    assert sum(entry["event"] == "sweeper.run_skipped" for entry in logs) == PASS_SIZE
    assert (first, second) == (0, 1)  # the good run no longer waits behind the broken ones for ever
    assert runs.get_run(store, "p", thread.id, good.id).status is RunStatus.EXPIRED
    # The broken runs stay indexed, due again a retry interval later, when the same happens again.
    scores = {member: store.client.zscore(store.keys.expiring(member), member) for member in broken}
    assert set(scores.values()) == {now + SKIPPED_RUN_RETRY_S}
    assert store.expiring_runs(now + SKIPPED_RUN_RETRY_S - 1) == []
    with structlog.testing.capture_logs():
        assert sweep_once(store, now=now + SKIPPED_RUN_RETRY_S) == 0
    assert skipped_total() - before == 2 * PASS_SIZE
