"""The project's thread index behind `GET /threads`: both ways of creating a thread list it, deleting a thread
unlists it, a run the cap refuses leaves no entry, and an entry whose thread is gone is skipped, not an error.
Fakeredis and a real server."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from orchestrator.api.deps import Paging
from orchestrator.api.listing import list_page
from orchestrator.domain.requests import AssistantCreate, MessageCreate, ThreadAndRunCreate, ThreadCreate
from orchestrator.errors import TooManyActiveRuns
from orchestrator.services import assistants, runs, threads
from orchestrator.store import RedisStore
from tests.support import RecordingDispatcher


def listing(
    store: RedisStore,
    project: str = "p",
    *,
    limit: int = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    paging = Paging(limit=limit, order=order, after=after, before=before)
    return list_page(store, store.keys.threads(project), paging, lambda ids: store.get_threads(project, ids))


def ids(page: dict[str, Any]) -> list[str]:
    return [thread["id"] for thread in page["data"]]


def create_and_run(store: RedisStore, dispatcher: RecordingDispatcher, project: str = "p") -> str:
    assistant = assistants.create(store, project, AssistantCreate(model="m"))
    body = ThreadAndRunCreate(
        assistant_id=assistant.id, thread=ThreadCreate(messages=[MessageCreate(role="user", content="Hi")])
    )
    thread, _ = runs.create_thread_and_run(store, dispatcher, project, body, expiry_s=600)
    return thread.id


def test_threads_from_both_creations_list_newest_first_with_cursors(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    made = [
        threads.create_thread(store, "p", None).id,
        create_and_run(store, dispatcher),
        threads.create_thread(store, "p", ThreadCreate(metadata={"k": "v"})).id,
    ]
    page = listing(store)
    assert (page["object"], ids(page), page["has_more"]) == ("list", made[::-1], False)
    assert (page["first_id"], page["last_id"]) == (made[2], made[0])
    assert page["data"][0] == threads.get_thread(store, "p", made[2]).wire()
    assert page["data"][0]["metadata"] == {"k": "v"}

    first = listing(store, limit=2)
    assert (ids(first), first["has_more"]) == ([made[2], made[1]], True)
    rest = listing(store, limit=2, after=first["last_id"])
    assert (ids(rest), rest["has_more"]) == ([made[0]], False)
    assert ids(listing(store, order="asc", after=made[0])) == made[1:]
    assert ids(listing(store, order="asc", before=made[2])) == made[:2]


def test_another_project_lists_none_of_them(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    threads.create_thread(store, "p", None)
    create_and_run(store, dispatcher, "p")
    mine = threads.create_thread(store, "q", None).id
    assert ids(listing(store, "q")) == [mine]
    assert len(ids(listing(store, "p"))) == 2
    assert ids(listing(store, "nobody")) == []


def test_deleting_a_thread_unlists_it(store: RedisStore, dispatcher: RecordingDispatcher) -> None:
    kept = threads.create_thread(store, "p", None).id
    ran = create_and_run(store, dispatcher)  # its run is still active: the delete cancels it first
    threads.delete_thread(store, "p", ran, dispatcher)
    assert ids(listing(store)) == [kept]
    assert store.all_ids(store.keys.threads("p")) == [kept]


def test_a_run_the_cap_refuses_leaves_no_thread_and_no_entry(
    store: RedisStore, dispatcher: RecordingDispatcher
) -> None:
    capped = RedisStore(store.client, store.keys, max_active_runs=1)
    first = create_and_run(capped, dispatcher)
    with pytest.raises(TooManyActiveRuns):
        create_and_run(capped, dispatcher)
    assert store.all_ids(store.keys.threads("p")) == [first]
    assert ids(listing(store)) == [first]


def test_an_entry_whose_thread_is_gone_is_skipped(store: RedisStore) -> None:
    """What a crash leaves between the index entry and the thread's write (or a delete's two steps)."""
    older = threads.create_thread(store, "p", None).id
    store.add_to_index(store.keys.threads("p"), "thread_0000000000000000000000")  # sorts before every real id
    newer = threads.create_thread(store, "p", None).id
    store.client.delete(store.keys.thread("p", newer))
    page = listing(store)
    assert (ids(page), page["first_id"], page["last_id"]) == ([older], older, older)


def test_a_thread_written_without_an_entry_is_not_listed_but_readable(store: RedisStore) -> None:
    """A thread created before the index existed."""
    thread = threads.create_thread(store, "p", None)
    store.remove_from_index(store.keys.threads("p"), thread.id)
    assert ids(listing(store)) == []
    assert threads.get_thread(store, "p", thread.id) == thread
