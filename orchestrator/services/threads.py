"""Thread and message use cases. Messages enter a thread only while no run holds it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from orchestrator.domain.ids import new_id
from orchestrator.domain.models import JSON, Message, Thread
from orchestrator.domain.requests import MessageCreate, ThreadCreate, ThreadUpdate
from orchestrator.errors import InvalidRunState, NotFound, OrchestratorError, ThreadBusy
from orchestrator.files import checks
from orchestrator.services import file_search
from orchestrator.services.assistants import not_found
from orchestrator.services.dispatch import Dispatcher
from orchestrator.services.ledger import now_s
from orchestrator.store import Commit, RedisStore


def new_message(thread_id: str, body: MessageCreate, *, now: int) -> Message:
    if isinstance(body.content, str):
        content: list[JSON] = [{"type": "text", "text": {"value": body.content, "annotations": []}}]
    else:
        content = []
        for part in body.content:
            if part.type == "text":
                content.append({"type": "text", "text": {"value": part.text, "annotations": []}})
            else:
                content.append(part.model_dump())
    return Message(
        id=new_id("msg_"),
        created_at=now,
        completed_at=now,
        thread_id=thread_id,
        role=body.role,
        content=content,
        attachments=body.attachments or [],
        metadata=body.metadata or {},
    )


def create_thread(
    store: RedisStore, project: str, body: ThreadCreate | None, dispatcher: Dispatcher | None = None
) -> Thread:
    """A new thread; files attached for file_search go to its own vector store (ingestion needs `dispatcher`)."""
    body = body or ThreadCreate()
    thread, messages = prepare_thread(store, project, body, dispatcher)
    keys = store.keys
    docs = [(keys.message(project, thread.id, m.id), m) for m in messages]
    with listed(store, project, thread.id):
        store.put_indexed(
            [(keys.thread(project, thread.id), thread), *docs],
            [(keys.messages(project, thread.id), m.id) for m in messages],
        )
    attached = file_search.searched_attachments(body.messages or [])
    if attached:
        file_search.add_to_thread_store(store, dispatcher, project, thread.id, attached)
        thread = get_thread(store, project, thread.id)
    return thread


def prepare_thread(
    store: RedisStore, project: str, body: ThreadCreate, dispatcher: Dispatcher | None = None
) -> tuple[Thread, list[Message]]:
    """A new thread and its messages, checked and with its tool resources made, not written yet."""
    checks.require(
        store,
        project,
        checks.resource_file_ids(body.tool_resources),
        checks.messages_file_ids(body.messages, "messages"),
    )
    resources = file_search.prepare_resources(store, dispatcher, project, body.tool_resources)
    now = now_s()
    thread = Thread(id=new_id("thread_"), created_at=now, metadata=body.metadata or {}, tool_resources=resources or {})
    return thread, [new_message(thread.id, m, now=now) for m in body.messages or []]


@contextlib.contextmanager
def listed(store: RedisStore, project: str, thread_id: str) -> Iterator[None]:
    """Around the write that creates a thread: its entry in the project's thread index goes in first.

    The index spans threads, so it is in no thread's slot and no script or transaction of the thread can write it
    (on a Redis Cluster). Intent before act: a thread nothing listed could never be opened again from a list, while
    an entry whose thread is missing (its write refused or lost to a crash, or the thread deleted between the index
    read and the document read) is skipped by the listing, which loads only the threads that exist. A refusal
    (nothing written) takes the entry back; a Redis error leaves it, since the write may have landed.
    """
    index = store.keys.threads(project)
    store.add_to_index(index, thread_id)
    try:
        yield
    except OrchestratorError:
        store.remove_from_index(index, thread_id)
        raise


def get_thread(store: RedisStore, project: str, thread_id: str) -> Thread:
    thread = store.get_thread(project, thread_id)
    if thread is None:
        raise not_found("thread", thread_id)
    return thread


def update_thread(
    store: RedisStore, project: str, thread_id: str, body: ThreadUpdate, dispatcher: Dispatcher | None = None
) -> Thread:
    checks.require(store, project, checks.resource_file_ids(body.tool_resources))
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.tool_resources is not None:
        get_thread(store, project, thread_id)  # no store is made for a thread that does not exist
        changes["tool_resources"] = file_search.prepare_resources(store, dispatcher, project, body.tool_resources)
    updated = store.update_doc(store.keys.thread(project, thread_id), Thread, lambda t: t.model_copy(update=changes))
    if updated is None:
        raise not_found("thread", thread_id)
    return updated


def delete_thread(store: RedisStore, project: str, thread_id: str, dispatcher: Dispatcher | None = None) -> None:
    """The thread and all it holds: messages, runs, steps, tool outputs, event logs, its code session. A run still
    active is cancelled first (its executor is told to stop; whatever it writes afterwards fails its guard, since the
    run it holds is gone)."""
    get_thread(store, project, thread_id)
    active = store.active_run_id(project, thread_id)
    if active and dispatcher is not None:
        from orchestrator.services import runs  # runs builds on threads, not the other way round

        with contextlib.suppress(InvalidRunState, NotFound):
            runs.cancel_run(store, dispatcher, project, thread_id, active)
    keys = store.keys
    own_store = store.client.get(keys.thread_vector_store(project, thread_id))
    if own_store:
        from orchestrator.vector_stores.service import delete_vector_store  # built on threads, not the reverse

        with contextlib.suppress(NotFound):
            delete_vector_store(store, project, str(own_store))
    doomed = [
        keys.thread(project, thread_id),
        keys.thread_vector_store(project, thread_id),
        keys.active_run(project, thread_id),
        keys.messages(project, thread_id),
        keys.runs(project, thread_id),
        # The thread's code_interpreter session: its replayed cells and the files it knows.
        keys.code_cells(project, thread_id),
        keys.code_inputs(project, thread_id),
        keys.code_files(project, thread_id),
        *(keys.message(project, thread_id, m) for m in store.all_ids(keys.messages(project, thread_id))),
    ]
    # The project's index entry goes after the documents (store.delete), so a crash between leaves an entry the
    # listing skips, never a thread nothing lists.
    index: list[tuple[str, str]] = [(keys.threads(project), thread_id)]
    for run_id in store.all_ids(keys.runs(project, thread_id)):
        step_ids = store.all_ids(keys.steps(project, thread_id, run_id))
        doomed += [
            keys.run(project, thread_id, run_id),
            keys.run_messages(project, thread_id, run_id),
            keys.steps(project, thread_id, run_id),
            keys.events(project, thread_id, run_id),
        ]
        for step_id in step_ids:
            doomed += [
                keys.step(project, thread_id, step_id),
                keys.tool_outputs(project, thread_id, step_id),
                keys.tool_claims(project, thread_id, step_id),
                keys.tool_payloads(project, thread_id, step_id),
            ]
        index += store.run_index_entries(project, thread_id, run_id)
    store.delete(doomed, index)


def add_message(
    store: RedisStore, project: str, thread_id: str, body: MessageCreate, dispatcher: Dispatcher | None = None
) -> Message:
    """A new message; its files attached for file_search join the thread's own vector store."""
    get_thread(store, project, thread_id)
    checks.require(store, project, checks.message_file_ids(body))
    message = new_message(thread_id, body, now=now_s())
    keys = store.keys
    commit = Commit(project=project, thread_id=thread_id, active="free")
    commit.docs.append((keys.message(project, thread_id, message.id), message.model_dump_json().encode()))
    commit.index.append((keys.messages(project, thread_id), message.id))
    try:
        store.commit(commit)
    except ThreadBusy as exc:
        raise ThreadBusy(
            f"Can't add messages to {thread_id} while a run {exc.active_run_id} is active.",
            active_run_id=exc.active_run_id,
        ) from None
    file_search.add_to_thread_store(store, dispatcher, project, thread_id, file_search.searched_attachments([body]))
    return message


def get_message(store: RedisStore, project: str, thread_id: str, message_id: str) -> Message:
    message = store.get_message(project, thread_id, message_id)
    if message is None:
        raise not_found("message", message_id)
    return message


def update_message(
    store: RedisStore, project: str, thread_id: str, message_id: str, metadata: dict[str, str] | None
) -> Message:
    updated = store.update_doc(
        store.keys.message(project, thread_id, message_id),
        Message,
        lambda m: m.model_copy(update={"metadata": metadata or {}}),
    )
    if updated is None:
        raise not_found("message", message_id)
    return updated


def delete_message(store: RedisStore, project: str, thread_id: str, message_id: str) -> None:
    keys = store.keys
    if not store.delete(
        [keys.message(project, thread_id, message_id)], [(keys.messages(project, thread_id), message_id)]
    ):
        raise not_found("message", message_id)
