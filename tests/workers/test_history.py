"""The thread messages a model turn reads: truncation (last_messages, the context budget, max_prompt_tokens), the
newest kept and in order, and the per-process renderings that must never outlive a deleted message."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.domain.models import Message, Run
from orchestrator.domain.requests import AssistantCreate, MessageCreate, RunCreate
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher, ScriptedModel, text_turn
from workers.executor import history
from workers.executor.context import CHARS_PER_TOKEN
from workers.executor.history import HistoryReader, RenderedCache
from workers.executor.loop import RunExecutor


def thread_of(store: RedisStore, texts: list[str]) -> str:
    thread = threads.create_thread(store, "p", None)
    for text in texts:
        threads.add_message(store, "p", thread.id, MessageCreate(role="user", content=text))
    return thread.id


def run_on(thread_id: str, **options: Any) -> Run:
    return Run(
        id="run_x", created_at=0, thread_id=thread_id, assistant_id="asst_1", model="m", instructions="", **options
    )


def contents(chat: list[dict[str, Any]]) -> list[Any]:
    return [message["content"] for message in chat]


TEN = [f"{i:02d}" + "x" * 38 for i in range(10)]  # 40 characters each: 10 tokens


def test_over_the_budget_only_the_newest_that_fit_are_sent_in_order(store: RedisStore) -> None:
    thread_id = thread_of(store, TEN)
    reader = HistoryReader(store, context_tokens=35)  # 140 characters: three messages of 40
    assert contents(reader.read("p", run_on(thread_id)).chat) == TEN[-3:]
    # What every request carries (instructions, tools) leaves less room.
    assert contents(reader.read("p", run_on(thread_id), reserved_chars=60).chat) == TEN[-2:]


def test_max_prompt_tokens_lowers_the_budget_and_last_messages_caps_the_count(store: RedisStore) -> None:
    thread_id = thread_of(store, TEN)
    reader = HistoryReader(store, context_tokens=10_000)
    assert contents(reader.read("p", run_on(thread_id)).chat) == TEN
    assert contents(reader.read("p", run_on(thread_id, max_prompt_tokens=20)).chat) == TEN[-2:]
    last_four = run_on(thread_id, truncation_strategy={"type": "last_messages", "last_messages": 4})
    assert contents(reader.read("p", last_four).chat) == TEN[-4:]


def test_the_newest_message_is_sent_even_alone_over_the_budget(store: RedisStore) -> None:
    thread_id = thread_of(store, ["old", "y" * 400])
    reader = HistoryReader(store, context_tokens=10)
    assert contents(reader.read("p", run_on(thread_id)).chat) == ["y" * 400]


def test_no_more_than_the_cap_is_read_however_long_the_thread(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "MAX_HISTORY_MESSAGES", 7)
    monkeypatch.setattr(history, "_FIRST_PAGE", 2)  # a first page of 2 ids, then the 5 left under the cap
    monkeypatch.setattr(history, "_CHUNK", 3)  # messages read 3 at a time
    texts = [f"m{i:02d}" for i in range(30)]
    thread_id = thread_of(store, texts)
    assert contents(HistoryReader(store).read("p", run_on(thread_id)).chat) == texts[-7:]


def test_a_deleted_message_leaves_the_context_though_its_rendering_was_kept(store: RedisStore) -> None:
    thread_id = thread_of(store, ["a", "b", "c"])
    reader = HistoryReader(store)
    assert contents(reader.read("p", run_on(thread_id)).chat) == ["a", "b", "c"]
    assert len(reader.cache) == 3
    middle = store.page(store.keys.messages("p", thread_id), limit=3, order="asc").ids[1]
    threads.update_message(store, "p", thread_id, middle, {"k": "v"})  # metadata only: the model never reads it
    assert contents(reader.read("p", run_on(thread_id)).chat) == ["a", "b", "c"]
    threads.delete_message(store, "p", thread_id, middle)
    assert contents(reader.read("p", run_on(thread_id)).chat) == ["a", "c"]


def test_finished_messages_are_read_from_redis_once(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    thread_id = thread_of(store, ["a", "b", "c"])
    reader = HistoryReader(store, cache=RenderedCache())
    fetched: list[int] = []
    read = store.get_messages_by_id

    def counted(project: str, thread_id: str, ids: list[str]) -> list[Message | None]:
        fetched.append(len(ids))
        return read(project, thread_id, ids)

    monkeypatch.setattr(store, "get_messages_by_id", counted)
    reader.read("p", run_on(thread_id))
    threads.add_message(store, "p", thread_id, MessageCreate(role="user", content="d"))
    assert contents(reader.read("p", run_on(thread_id)).chat) == ["a", "b", "c", "d"]
    assert fetched == [3, 1]  # the second turn read only the message it had not seen


def test_messages_past_the_budget_are_not_read(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "_CHUNK", 2)
    thread_id = thread_of(store, TEN)
    fetched: list[int] = []
    read = store.get_messages_by_id

    def counted(project: str, thread_id: str, ids: list[str]) -> list[Message | None]:
        fetched.append(len(ids))
        return read(project, thread_id, ids)

    monkeypatch.setattr(store, "get_messages_by_id", counted)
    reader = HistoryReader(store, context_tokens=20)  # two messages of 40 characters
    assert contents(reader.read("p", run_on(thread_id)).chat) == TEN[-2:]
    assert fetched == [2, 2]  # the third message showed the budget full; the other six were never read


def test_the_cache_keeps_the_most_recently_used() -> None:
    cache = RenderedCache(entries=2)
    for key in ("a", "b"):
        cache.put(key, history.Rendered(run_id=None, chars=1, code_files=(), chat={"role": "user", "content": key}))
    assert cache.get_many(["a"])[0] is not None
    cache.put("c", history.Rendered(run_id=None, chars=1, code_files=(), chat=None))
    assert [found is not None for found in cache.get_many(["a", "b", "c"])] == [True, False, True]


def test_the_cache_holds_no_more_text_than_its_bound() -> None:
    cache = RenderedCache(chars=100)
    for key, chars in (("a", 40), ("b", 40), ("c", 40)):
        cache.put(key, history.Rendered(run_id=None, chars=chars, code_files=(), chat=None))
    assert [found is not None for found in cache.get_many(["a", "b", "c"])] == [False, True, True]
    cache.put("huge", history.Rendered(run_id=None, chars=1000, code_files=(), chat=None))  # kept alone
    assert [found is not None for found in cache.get_many(["b", "c", "huge"])] == [False, False, True]


def test_code_files_attached_to_the_newest_messages_oldest_first(store: RedisStore) -> None:
    thread = threads.create_thread(store, "p", None)
    for file_id in ("file-a", "file-b"):  # written directly: the service would want the files to exist
        attachment = [{"file_id": file_id, "tools": [{"type": "code_interpreter"}]}]
        body = MessageCreate(role="user", content="see file", attachments=attachment)
        message = threads.new_message(thread.id, body, now=0)
        store.put_indexed(
            [(store.keys.message("p", thread.id, message.id), message)],
            [(store.keys.messages("p", thread.id), message.id)],
        )
    reader = HistoryReader(store)
    assert reader.attached_code_files("p", run_on(thread.id)) == ["file-a", "file-b"]


def test_a_run_on_a_thread_over_the_budget_sends_the_newest_that_fit(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    assistant = assistants.create(store, "p", AssistantCreate(model="m", instructions="Be brief."))
    thread_id = thread_of(store, TEN)
    runs.create_run(store, dispatcher, "p", thread_id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    model = ScriptedModel([text_turn("ok"), text_turn("fine")])
    budget = (3 * 40 + len("Be brief.")) // CHARS_PER_TOKEN + 1  # the instructions and three messages
    executor = RunExecutor(store, model, dispatcher, max_turns=4, context_tokens=budget)
    assert executor.execute(*dispatcher.runs[-1]) == "completed"
    assert model.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        *({"role": "user", "content": text} for text in TEN[-3:]),
    ]
    # The next run reads the answer of the first as history, the oldest message dropped to make room.
    runs.create_run(store, dispatcher, "p", thread_id, RunCreate(assistant_id=assistant.id), expiry_s=600)
    assert executor.execute(*dispatcher.runs[-1]) == "completed"
    assert contents(model.requests[1]["messages"][1:]) == [*TEN[-2:], "ok"]
