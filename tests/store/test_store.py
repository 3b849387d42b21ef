"""The store's contract, run on fakeredis and on a real server: guarded commits, the thread hold, paging, the
event log and its pub/sub twin, and the tool-output hand-back."""

from __future__ import annotations

import threading
import time

import fakeredis
import orjson
import pytest

from orchestrator.domain.ids import new_id
from orchestrator.domain.models import Assistant
from orchestrator.errors import ConcurrentUpdate, ThreadBusy
from orchestrator.store import Commit, RedisStore


def start_run(store: RedisStore, thread_id: str, run_id: str, *, expires_at: int = 1000) -> list[str]:
    commit = Commit(
        project="p",
        thread_id=thread_id,
        run_id=run_id,
        active="acquire",
        run_fields={"status": "queued", "doc": "{}"},
        expires_at=expires_at,
    )
    commit.event("thread.run.created", {"id": run_id}).event("thread.run.queued", {"id": run_id})
    return store.commit(commit).event_ids


def test_acquire_holds_the_thread_for_one_run(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a")
    with pytest.raises(ThreadBusy) as info:
        start_run(store, "thread_1", "run_b")
    assert info.value.active_run_id == "run_a"
    assert store.active_run_id("p", "thread_1") == "run_a"
    start_run(store, "thread_2", "run_c")  # another thread is not affected


def test_free_mode_refuses_writes_while_another_run_holds_the_thread(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a")
    message = Commit(project="p", thread_id="thread_1", active="free")
    message.docs.append((store.keys.message("p", "thread_1", "msg_1"), b"{}"))
    with pytest.raises(ThreadBusy):
        store.commit(message)
    assert store.client.get(store.keys.message("p", "thread_1", "msg_1")) is None  # nothing was written


def test_release_frees_the_thread_and_forgets_the_expiry(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a", expires_at=50)
    assert store.expiring_runs(now=100) == ["p|thread_1|run_a"]
    store.commit(
        Commit(project="p", thread_id="thread_1", run_id="run_a", active="release", run_fields={"status": "completed"})
    )
    assert store.active_run_id("p", "thread_1") is None
    assert store.expiring_runs(now=100) == []
    assert store.client.ttl(store.keys.events("p", "thread_1", "run_a")) > 0
    start_run(store, "thread_1", "run_b")


def test_guards_compare_and_set_every_listed_field(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a")
    ok = Commit(
        project="p",
        thread_id="thread_1",
        run_id="run_a",
        guards={"status": ("queued", "in_progress")},
        run_fields={"status": "in_progress", "holder": "h1"},
    )
    first = store.commit(ok)
    stale = Commit(
        project="p",
        thread_id="thread_1",
        run_id="run_a",
        guards={"ver": ("1",), "holder": ("h1",)},
        run_fields={"status": "completed"},
    )
    with pytest.raises(ConcurrentUpdate) as info:
        store.commit(stale)
    assert (info.value.field, info.value.current) == ("ver", str(first.version))
    absent = Commit(
        project="p", thread_id="thread_1", run_id="run_a", guards={"dispatch": ("",)}, run_fields={"dispatch": "t1"}
    )
    store.commit(absent)  # an absent field matches ''
    with pytest.raises(ConcurrentUpdate):
        store.commit(absent)
    assert store.client.hget(store.keys.run("p", "thread_1", "run_a"), "status") == "in_progress"


def test_a_failed_guard_writes_and_publishes_nothing(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a")
    before = len(store.events("p", "thread_1", "run_a"))
    commit = Commit(project="p", thread_id="thread_1", run_id="run_a", guards={"status": ("completed",)})
    commit.docs.append((store.keys.step("p", "thread_1", "step_1"), b"{}"))
    commit.event("thread.run.step.created", {"id": "step_1"})
    with pytest.raises(ConcurrentUpdate):
        store.commit(commit)
    assert len(store.events("p", "thread_1", "run_a")) == before
    assert store.client.get(store.keys.step("p", "thread_1", "step_1")) is None


def test_writing_documents_bumps_the_run_version(store: RedisStore) -> None:
    start_run(store, "thread_1", "run_a")
    version = int(store.client.hget(store.keys.run("p", "thread_1", "run_a"), "ver") or 0)
    commit = Commit(project="p", thread_id="thread_1", run_id="run_a")
    commit.docs.append((store.keys.step("p", "thread_1", "step_1"), b"{}"))
    assert store.commit(commit).version == version + 1


def test_events_land_in_the_log_in_order_and_ring_the_channel_once(store: RedisStore) -> None:
    pubsub = store.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(store.keys.run_channel("run_a"))
    ids = start_run(store, "thread_1", "run_a")
    logged = store.events("p", "thread_1", "run_a")
    assert [e.id for e in logged] == ids
    assert [e.event for e in logged] == ["thread.run.created", "thread.run.queued"]
    assert [e.id for e in store.events("p", "thread_1", "run_a", after=ids[0])] == ids[1:]
    if isinstance(store.client, fakeredis.FakeRedis):
        return  # fakeredis does not deliver PUBLISH from Lua; the [real] variant checks the channel
    published: list[str] = []
    deadline = time.monotonic() + 5
    while not published and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)  # None also stands for the skipped subscribe confirmation
        if message is not None:
            published.append(message["data"])
    # One doorbell per commit, without the events' data: followers read the events from the log.
    assert published == [f"{ids[1]}\nthread.run.created\nthread.run.queued"]
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()


def _assistants(store: RedisStore, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        assistant = Assistant(id=new_id("asst_"), created_at=1, model="m")
        store.put_indexed(
            [(store.keys.assistant("p", assistant.id), assistant)], [(store.keys.assistants("p"), assistant.id)]
        )
        ids.append(assistant.id)
    return ids


def test_pages_follow_openai_cursor_semantics(store: RedisStore) -> None:
    ids = _assistants(store, 5)
    index = store.keys.assistants("p")
    assert store.page(index, limit=2, order="asc").ids == ids[:2]
    assert store.page(index, limit=2, order="asc").has_more
    assert store.page(index, limit=2, order="asc", after=ids[1]).ids == ids[2:4]
    assert store.page(index, limit=10, order="asc", after=ids[2]).ids == ids[3:]
    assert not store.page(index, limit=10, order="asc", after=ids[2]).has_more
    assert store.page(index, limit=2, order="desc").ids == [ids[4], ids[3]]
    assert store.page(index, limit=2, order="desc", after=ids[3]).ids == [ids[2], ids[1]]
    assert store.page(index, limit=2, order="desc", before=ids[1]).ids == [ids[3], ids[2]]
    assert store.page(index, limit=2, order="asc", before=ids[3]).ids == [ids[1], ids[2]]
    assert store.page(index, limit=5, order="asc", after=ids[0], before=ids[4]).ids == ids[1:4]
    assert store.page(index, limit=5, order="asc", after=ids[4]).ids == []


def test_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    ids = [new_id("msg_") for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 500


def _park(store: RedisStore, awaiting: int) -> None:
    start_run(store, "thread_1", "run_a")
    store.commit(
        Commit(
            project="p",
            thread_id="thread_1",
            run_id="run_a",
            run_fields={"status": "in_progress", "awaiting": str(awaiting), "holder": ""},
        )
    )


def test_the_last_tool_output_hands_the_run_back_exactly_once(store: RedisStore) -> None:
    _park(store, awaiting=8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def record(i: int) -> None:
        outcome = store.record_tool_output(
            "p",
            "thread_1",
            "run_a",
            "step_1",
            f"call_{i}",
            b"{}",
            f"tok{i}",
            [("thread.run.step.delta", orjson.dumps({"i": i}))],
        )
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=record, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["dispatch"] + ["waiting"] * 7
    fields = store.client.hgetall(store.keys.run("p", "thread_1", "run_a"))
    assert fields["awaiting"] == "0" and str(fields["dispatch"]).startswith("tok")
    assert len([e for e in store.events("p", "thread_1", "run_a") if e.event == "thread.run.step.delta"]) == 8
    assert store.record_tool_output("p", "thread_1", "run_a", "step_1", "call_0", b"{}", "x", []) == "stale"


def test_a_redelivered_tool_output_is_a_no_op(store: RedisStore) -> None:
    _park(store, awaiting=2)
    assert store.record_tool_output("p", "thread_1", "run_a", "step_1", "call_0", b"{}", "t", []) == "waiting"
    assert store.record_tool_output("p", "thread_1", "run_a", "step_1", "call_0", b"{}", "t", []) == "duplicate"
    assert store.tool_outputs("p", "thread_1", "step_1") == {"call_0": "{}"}


def test_update_doc_retries_until_its_change_lands(store: RedisStore) -> None:
    (assistant_id,) = _assistants(store, 1)
    key = store.keys.assistant("p", assistant_id)

    def rename(a: Assistant) -> Assistant:
        return a.model_copy(update={"name": (a.name or "") + "x"})

    workers = [threading.Thread(target=store.update_doc, args=(key, Assistant, rename)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assistant = store.get_assistant("p", assistant_id)
    assert assistant is not None and assistant.name == "xxxxxx"
