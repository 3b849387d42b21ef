"""The indexes that span threads (the sweeper's expiring and leases sets, the project's active runs) live outside
the thread's slot, so a Redis Cluster can run every script: each script names keys of one slot, the run's entries
are written before the commit that needs them and removed after the one that ends them, and whatever a crash
between leaves behind is dropped by the sweeper or reaped by the cap. Fakeredis and a real server."""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import pytest
from redis.crc import key_slot

from orchestrator.domain.requests import (
    AssistantCreate,
    MessageCreate,
    RunCreate,
    ThreadAndRunCreate,
    ThreadCreate,
    ToolOutput,
    ToolOutputsSubmit,
)
from orchestrator.domain.status import RunStatus
from orchestrator.errors import ConcurrentUpdate, ThreadBusy, TooManyActiveRuns
from orchestrator.services import assistants, recovery, runs, threads
from orchestrator.services.recovery import RecoveryPolicy
from orchestrator.store import Commit, Keys, RedisStore
from orchestrator.store.keys import INDEX_SHARDS, expiry_member, index_shard
from orchestrator.sweeper import sweep_once
from tests.support import RecordingDispatcher, ScriptedModel, call_turn, text_turn
from workers.executor.loop import RunExecutor

FUNCTION = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


class SlotCheckingRedis(fakeredis.FakeRedis):
    """Records the keys of every script call, so a test can check that each names one slot."""

    scripts: list[list[str]]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if str(args[0]).upper() in ("EVALSHA", "EVAL"):
            numkeys = int(args[2])
            self.scripts.append([str(k) for k in args[3 : 3 + numkeys]])
        return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]


def start(store: RedisStore, project: str = "p", tools: list[Any] | None = None) -> tuple[str, str]:
    assistant = assistants.create(store, project, AssistantCreate(model="m", tools=tools or []))
    thread = threads.create_thread(store, project, None)
    threads.add_message(store, project, thread.id, MessageCreate(role="user", content="Hello?"))
    started = runs.create_run(
        store, RecordingDispatcher(), project, thread.id, RunCreate(assistant_id=assistant.id), expiry_s=600
    )
    return thread.id, started.run.id


def shard_entries(store: RedisStore) -> list[str]:
    keys = [store.keys.expiring_shard(s) for s in range(INDEX_SHARDS)]
    keys += [store.keys.leases_shard(s) for s in range(INDEX_SHARDS)]
    return [str(m) for key in keys for m in store.client.zrange(key, 0, -1)]


def test_every_script_of_a_run_names_keys_of_one_slot() -> None:
    client = SlotCheckingRedis(decode_responses=True)
    client.scripts = []
    store = RedisStore(client, Keys("slots"), max_active_runs=10)
    dispatcher = RecordingDispatcher()
    thread_id, run_id = start(store, tools=[FUNCTION])
    record = store.get_run("p", thread_id, run_id)
    assert record is not None
    model = ScriptedModel([call_turn(("lookup", "{}")), text_turn("Done.")])
    executor = RunExecutor(store, model, dispatcher, max_turns=4)
    assert executor.execute("p", thread_id, run_id, record.dispatch) == "requires_action"
    action = runs.get_run(store, "p", thread_id, run_id).required_action
    assert action is not None
    call_id = action.submit_tool_outputs["tool_calls"][0]["id"]
    body = ToolOutputsSubmit(tool_outputs=[ToolOutput(tool_call_id=call_id, output="42")])
    runs.submit_tool_outputs(store, dispatcher, "p", thread_id, run_id, body)
    _, _, _, resumed = dispatcher.runs[-1]
    assert executor.execute("p", thread_id, run_id, resumed) == "completed"
    assert store.renew_lease("p", thread_id, run_id, "nobody", time.time() + 10) is False
    store.claim_tool_call("p", thread_id, run_id, "step_x", "call_x", "tok", time.time(), 10)

    assert len(client.scripts) > 5
    for keys in client.scripts:
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys


def test_a_thread_made_with_its_run_is_listed_outside_the_commit_of_its_slot() -> None:
    client = SlotCheckingRedis(decode_responses=True)
    client.scripts = []
    store = RedisStore(client, Keys("slots"), max_active_runs=10)
    assistant = assistants.create(store, "p", AssistantCreate(model="m"))
    body = ThreadAndRunCreate(
        assistant_id=assistant.id, thread=ThreadCreate(messages=[{"role": "user", "content": "Hi"}])
    )
    thread, _ = runs.create_thread_and_run(store, RecordingDispatcher(), "p", body, expiry_s=600)

    # One commit (recorded twice when its EVALSHA finds no script and is sent again once loaded).
    (commit,) = {tuple(keys) for keys in client.scripts if store.keys.thread("p", thread.id) in keys}
    assert len({key_slot(k.encode()) for k in commit}) == 1, commit
    index = store.keys.threads("p")
    assert index not in commit
    assert key_slot(index.encode()) != key_slot(commit[0].encode())  # so no script of the thread could write it
    assert store.all_ids(index) == [thread.id]


def test_index_shards_spread_over_slots_and_a_run_keeps_its_shard() -> None:
    keys = Keys("orch")
    slots = {key_slot(keys.expiring_shard(s).encode()) for s in range(INDEX_SHARDS)}
    assert len(slots) == INDEX_SHARDS
    member = expiry_member("p", "thread_1", "run_1")
    assert keys.expiring(member) == keys.expiring_shard(index_shard(member))
    assert keys.leases(member) == keys.leases_shard(index_shard(member))
    assert len({index_shard(expiry_member("p", "t", f"run_{i}")) for i in range(200)}) == INDEX_SHARDS


def test_the_sweeper_reads_every_shard_in_due_order(store: RedisStore) -> None:
    members = [expiry_member("p", f"thread_{i}", f"run_{i}") for i in range(64)]
    for score, member in enumerate(members):
        store.client.zadd(store.keys.expiring(member), {member: 1000 + score})
        store.client.zadd(store.keys.leases(member), {member: 1000 + score})
    assert len({store.keys.expiring(m) for m in members}) > 1
    assert store.expiring_runs(now=2000, limit=10) == members[:10]
    assert store.due_looks(now=1000 + 63, limit=1000) == members
    assert store.due_looks(now=1000 + 4.5) == members[:5]


def test_a_run_ended_normally_leaves_no_entry_behind(store: RedisStore) -> None:
    thread_id, run_id = start(store)
    member = expiry_member("p", thread_id, run_id)
    assert store.client.zscore(store.keys.expiring(member), member) is not None  # indexed before its commit
    assert store.client.zscore(store.keys.active_runs("p"), run_id) is not None
    assert store.client.zscore(store.keys.leases(member), member) is not None  # the look its send scheduled
    runs.cancel_run(store, RecordingDispatcher(), "p", thread_id, run_id)
    assert store.client.zscore(store.keys.expiring(member), member) is None
    assert store.client.zscore(store.keys.active_runs("p"), run_id) is None
    assert store.client.zscore(store.keys.leases(member), member) is None  # dropped with the others


def test_a_release_whose_guard_fails_keeps_the_run_indexed(store: RedisStore) -> None:
    thread_id, run_id = start(store)
    member = expiry_member("p", thread_id, run_id)
    stale = Commit(project="p", thread_id=thread_id, run_id=run_id, active="release", guards={"ver": ("999",)})
    with pytest.raises(ConcurrentUpdate):
        store.commit(stale)
    assert store.client.zscore(store.keys.expiring(member), member) is not None
    assert store.client.zscore(store.keys.active_runs("p"), run_id) is not None
    assert store.client.zscore(store.keys.leases(member), member) is not None


def test_a_refused_start_gives_back_what_it_reserved(store: RedisStore) -> None:
    capped = RedisStore(store.client, store.keys, max_active_runs=1)
    thread_id, _ = start(capped)
    commit = Commit(project="p", thread_id=thread_id, run_id="run_second", active="acquire", expires_at=2_000)
    with pytest.raises(TooManyActiveRuns):
        capped.commit(commit)
    roomy = RedisStore(store.client, store.keys, max_active_runs=5)
    with pytest.raises(ThreadBusy):  # the thread is held: the place and the expiry entry go back
        roomy.commit(commit)
    member = expiry_member("p", thread_id, "run_second")
    assert store.client.zscore(store.keys.active_runs("p"), "run_second") is None
    assert store.client.zscore(store.keys.expiring(member), member) is None
    assert store.client.zcard(store.keys.active_runs("p")) == 1


def test_entries_a_crash_left_behind_are_dropped(store: RedisStore) -> None:
    # Crash after the intent, before the commit: entries name a run that was never written.
    ghost = expiry_member("p", "thread_ghost", "run_ghost")
    store.client.zadd(store.keys.expiring(ghost), {ghost: 100})
    store.client.zadd(store.keys.leases(ghost), {ghost: 100})
    # Crash after the commit that ended a run, before its entries went: the run is finished.
    thread_id, run_id = start(store)
    ended = expiry_member("p", thread_id, run_id)
    runs.cancel_run(store, RecordingDispatcher(), "p", thread_id, run_id)
    store.client.zadd(store.keys.expiring(ended), {ended: 100})
    store.client.zadd(store.keys.leases(ended), {ended: 100})

    assert sweep_once(store, now=200) == 0
    recovery.recover_due(store, RecordingDispatcher(), RecoveryPolicy(), now=200)
    assert shard_entries(store) == []
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.CANCELLED


def test_a_place_a_crash_left_behind_is_reaped_once_past_its_expiry(store: RedisStore) -> None:
    capped = RedisStore(store.client, store.keys, max_active_runs=1)
    store.client.zadd(store.keys.active_runs("p"), {"run_crashed": time.time() - 61})
    start(capped)
    assert store.client.zscore(store.keys.active_runs("p"), "run_crashed") is None


def test_entries_of_the_unsharded_indexes_move_into_their_shards(store: RedisStore) -> None:
    thread_id, run_id = start(store)
    expires_at = runs.get_run(store, "p", thread_id, run_id).expires_at
    assert expires_at is not None
    member = expiry_member("p", thread_id, run_id)
    # As an earlier version left them: one expiring set, one leases set.
    store.client.delete(store.keys.expiring(member), store.keys.leases(member))
    legacy_expiring, legacy_leases = store.keys.legacy_indexes()
    store.client.zadd(legacy_expiring, {member: expires_at})
    store.client.zadd(legacy_leases, {member: 400})

    sweep_once(store, now=100)

    assert store.client.exists(legacy_expiring, legacy_leases) == 0
    assert store.client.zscore(store.keys.expiring(member), member) == expires_at
    assert store.client.zscore(store.keys.leases(member), member) == 400
    assert sweep_once(store, now=expires_at + 1) == 1
    assert runs.get_run(store, "p", thread_id, run_id).status is RunStatus.EXPIRED
